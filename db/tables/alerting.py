"""The alert engine's tables besides alerts: history, rules, pending conditions, notifications (outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

ALERT_EVENT_KINDS = (
    "opened",
    "severity_raised",
    "severity_lowered",
    "acknowledged",
    "commented",
    "shelved",
    "unshelved",
    "escalated",  # still unacknowledged after the escalation delay
    "resolved",
    "outcome",  # maintenance reported what it found
)
NOTIFICATION_STATUSES = ("pending", "sent", "failed")


class AlertEvent(Base):
    """One step in an alert's history: who did what when (repeats only bump the alert's count)."""

    __tablename__ = "alert_events"
    __table_args__ = (
        CheckConstraint(f"kind IN {ALERT_EVENT_KINDS!r}", name="kind"),
        Index("ix_alert_events_unrouted", "id", postgresql_where="routed_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    held: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false", doc="the alert was shelved: no route hears of it"
    )
    routed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="when the notification job turned it into notifications (if any)"
    )


class AlertRule(Base):
    """Thresholds of one rule for the plant (no line, no machine), a line, or a machine.

    The most specific row wins; rules without a row use the built-in defaults (services.alert_rules).
    """

    __tablename__ = "alert_rules"
    __table_args__ = (
        Index(
            "uq_alert_rules_scope",
            "rule",
            text("coalesce(line_id, 0)"),
            text("coalesce(machine_id, 0)"),
            unique=True,
        ),
        CheckConstraint("line_id IS NULL OR machine_id IS NULL", name="one_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    warning: Mapped[float | None] = mapped_column(Float)
    critical: Mapped[float | None] = mapped_column(Float)
    hysteresis: Mapped[float] = mapped_column(Float, default=0.0)
    min_duration_s: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128), default="system")


class AlertCondition(Base):
    """A condition seen but not yet held for its rule's minimum duration (no alert opened yet)."""

    __tablename__ = "alert_conditions"

    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    """One message about one alert event to one recipient: the outbox the delivery job drains.

    Written in the transaction that changes the alert, so a notification exists if and only if the
    change does; the unique key makes a second write of the same one a no-op, and the delivery job
    claims rows with SKIP LOCKED, so nothing is sent twice by two schedulers.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("alert_event_id", "channel", "target"),
        CheckConstraint(f"status IN {NOTIFICATION_STATUSES!r}", name="status"),
        Index("ix_notifications_pending", "next_attempt_at", postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    alert_event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16), doc="mqtt, webhook, chat or email")
    target: Mapped[str] = mapped_column(Text, doc="topic, URL or e-mail address")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DowntimeWindow(Base):
    """Planned downtime of a machine or a whole line (posted by the MES): no new alerts open meanwhile."""

    __tablename__ = "downtime_windows"
    __table_args__ = (
        CheckConstraint("(machine_id IS NULL) <> (line_id IS NULL)", name="one_subject"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_downtime_windows_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    work_order_id: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BacktestPin(Base):
    """A backtest whose history must be kept: retention drops no raw reading of [starts_at, ends_at)."""

    __tablename__ = "backtest_pins"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    scope: Mapped[str] = mapped_column(String(64), doc="the machine type replayed")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
