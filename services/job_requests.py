"""Job requests: the API asks for a job run by writing a row; the scheduler claims it and runs the job.

Web processes never run jobs themselves. `JOB_NAMES` is the one list of jobs that can be requested;
jobs/registry.py refuses to load when its registry does not match it (services may not import jobs).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db.base import utcnow
from db.repositories import job_runs as repo
from db.tables import JobRequest

JOB_NAMES: tuple[str, ...] = (
    "evaluate_alerts",
    "notify_alerts",
    "dead_letter_report",
    "silent_machines",
    "partition_upkeep",
    "rollups",
    "train_rul",
    "score_machines",
    "train_qc",
    "classify_inspections",
    "quality_check",
    "retention",
)


class UnknownJobError(ValueError):
    pass


def request_job(
    session: Session,
    job_name: str,
    params: dict[str, Any] | None,
    requested_by: str | None,
    known: Collection[str] = JOB_NAMES,
    now: datetime | None = None,
) -> JobRequest:
    """Queue a run of `job_name` for the scheduler; params become the job's keyword arguments."""
    if job_name not in known:
        raise UnknownJobError(f"unknown job {job_name!r}; known jobs: {', '.join(sorted(known))}")
    return repo.add_request(session, job_name, dict(params or {}), requested_by, now or utcnow())


def claim_pending(session: Session, limit: int, now: datetime | None = None) -> list[JobRequest]:
    """Claim up to `limit` pending requests, oldest first, marking them picked.

    Rows another scheduler is claiming at the same moment are skipped (FOR UPDATE SKIP LOCKED),
    so every request is picked exactly once. The caller commits before running them.
    """
    return repo.claim_pending_requests(session, limit, now or utcnow())


def record_run(session: Session, request_id: int, job_run_id: int) -> None:
    """Link a picked request to the job run that served it."""
    repo.link_request_run(session, request_id, job_run_id)


def get_request(session: Session, request_id: int) -> JobRequest | None:
    return repo.get_request(session, request_id)


def list_requests(session: Session, *, pending_only: bool = False, limit: int = 100) -> Sequence[JobRequest]:
    return repo.list_requests(session, pending_only=pending_only, limit=limit)
