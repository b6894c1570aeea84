"""What the models say: registered model versions, predictions per machine, and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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

MODEL_KINDS = ("rul", "qc", "health")
MODEL_STATUSES = ("candidate", "champion", "retired", "rejected")
ALERT_STATES = ("open", "acknowledged", "resolved")
SEVERITIES = ("info", "warning", "critical")
OUTCOMES = ("fault_found", "part_replaced", "no_fault_found")


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("kind", "scope", "version"),
        CheckConstraint(f"kind IN {MODEL_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {MODEL_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(64), doc="machine type (rul, health) or line (qc)")
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    data_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    data_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    artifact_path: Mapped[str | None] = mapped_column(Text)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Prediction(Base):
    """What the scoring job said about a machine at `made_at` (`detail`: reasons, top sensors, versions)."""

    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_machine_made_at", "machine_id", "made_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="ok", doc="ok, degraded or withheld")
    rul: Mapped[float | None] = mapped_column(Float)
    rul_low: Mapped[float | None] = mapped_column(Float)
    rul_high: Mapped[float | None] = mapped_column(Float)
    failure_probability: Mapped[float | None] = mapped_column(Float)
    health_score: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Alert(Base):
    """One alert per machine (or line) and rule while it is not resolved; repeats bump `count`."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_active_machine_rule",
            "machine_id",
            "rule",
            unique=True,
            postgresql_where=text("state IN ('open', 'acknowledged')"),
        ),
        CheckConstraint(f"state IN {ALERT_STATES!r}", name="state"),
        CheckConstraint("machine_id IS NOT NULL OR line_id IS NOT NULL", name="subject"),
        CheckConstraint(f"severity IN {SEVERITIES!r}", name="severity"),
        CheckConstraint(f"outcome IS NULL OR outcome IN {OUTCOMES!r}", name="outcome"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"), index=True)
    line_id: Mapped[int | None] = mapped_column(
        ForeignKey("lines.id"), index=True, doc="set, without a machine, for a line's alert (quality)"
    )
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    message: Mapped[str] = mapped_column(Text, default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    shelved_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="notifications held back until then (shelving expires on its own)"
    )
    shelved_by: Mapped[str | None] = mapped_column(String(128))
    escalated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        doc="when the unacknowledged alert was escalated to its escalation recipients",
    )
    outcome: Mapped[str | None] = mapped_column(
        String(16), doc="what maintenance found: fault_found, part_replaced or no_fault_found (a false alarm)"
    )
    fault_code: Mapped[str | None] = mapped_column(String(64))
    work_order_id: Mapped[str | None] = mapped_column(String(128), doc="the MES/CMMS work order")
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome_by: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONB,
        default=dict,
        server_default=text("'{}'"),
        doc="the figures behind it: value, threshold, sensors",
    )
