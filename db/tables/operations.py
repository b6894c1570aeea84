"""Running the product: job runs, job requests from the API, API keys, the audit log, data versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

ROLES = ("viewer", "engineer", "mes", "admin")
RUN_STATUSES = ("running", "succeeded", "failed")


class JobRun(Base):
    """One firing of a job; the unique (job, scheduled_for) is claimed before the run starts."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job_name", "scheduled_for"),
        CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_name: Mapped[str] = mapped_column(String(64), index=True)
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    trigger: Mapped[str] = mapped_column(String(16), default="schedule", doc="schedule or request")


class JobRequest(Base):
    """A request (from the API) that the scheduler run a job now; web processes never run jobs."""

    __tablename__ = "job_requests"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_name: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    requested_by: Mapped[str | None] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    picked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    job_run_id: Mapped[int | None] = mapped_column(BigInteger)


class ApiKey(Base):
    """An API key, stored as a SHA-256 hash (keys are 256-bit random, so no slow hash is needed)."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One write through the API that was committed: who (key), what (method, path), when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    key_id: Mapped[int | None] = mapped_column(Integer)
    key_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    route: Mapped[str | None] = mapped_column(
        String(200), doc="the route template, e.g. /api/v1/alerts/{alert_id}"
    )
    query: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))


class DataVersion(Base):
    """A number that changes with every committed write to the data behind the API's cached answers.

    `fleet`: sites, lines, machines (not their ingest state), predictions, alerts, models and alert
    rules; kept by database triggers (migrations 0008, 0009), so every writer counts: jobs, ingest, the
    CLI, the API.
    `rollups`: the sealed buckets of `readings_1m` / `readings_1h`; kept by the code that rewrites or
    deletes them (db.rollups.bump_version: backfills, retention), so a change made by hand in SQL needs a
    bump of its own, or a restart of the API.
    """

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
