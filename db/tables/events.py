"""What happens to machines and lines: dead letters, maintenance/failure events, inspections."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

EVENT_KINDS = ("failure", "maintenance")


class DeadLetter(Base):
    """A message ingest refused, kept with its reason so it can be fixed and replayed."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replay_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replay_error: Mapped[str | None] = mapped_column(Text)


class MachineEvent(Base):
    """A failure or maintenance event: the labels that turn history into run-to-failure cycles."""

    __tablename__ = "machine_events"
    __table_args__ = (CheckConstraint(f"kind IN {EVENT_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")
    work_order_id: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Inspection(Base):
    """An inspection image (stored on disk, hash here) of a part at a line's station."""

    __tablename__ = "inspections"
    __table_args__ = (
        Index("ix_inspections_line_taken_at", "line_id", "taken_at"),
        # The classifier's queue: images not classified yet.
        Index("ix_inspections_unclassified", "id", postgresql_where=text("classified_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    station: Mapped[str] = mapped_column(String(64))
    part_id: Mapped[str | None] = mapped_column(String(128))
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    image_path: Mapped[str] = mapped_column(Text)
    image_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    known_label: Mapped[str | None] = mapped_column(String(64), doc="the true class, when someone knows it")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    labelled_by: Mapped[str | None] = mapped_column(String(128), doc="who set or corrected known_label")
    labelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    predicted_label: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    classified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
