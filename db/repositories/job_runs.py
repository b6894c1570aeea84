"""Queries on job runs (one row per firing, claimed before it runs) and on job requests from the API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.tables import JobRequest, JobRun


def claim_run(
    session: Session, job_name: str, scheduled_for: datetime, trigger: str, started_at: datetime
) -> int | None:
    """Insert the run of (job_name, scheduled_for); None when another scheduler already claimed it."""
    run_id = session.scalar(
        insert(JobRun)
        .values(
            job_name=job_name,
            scheduled_for=scheduled_for,
            trigger=trigger,
            started_at=started_at,
            status="running",
            summary={},
        )
        .on_conflict_do_nothing(index_elements=["job_name", "scheduled_for"])
        .returning(JobRun.id)
    )
    return None if run_id is None else int(run_id)


def finish_run(
    session: Session,
    run_id: int,
    status: str,
    finished_at: datetime,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(status=status, finished_at=finished_at, summary=summary or {}, error=error)
    )


def get_run(session: Session, run_id: int) -> JobRun | None:
    return session.get(JobRun, run_id)


def list_runs(
    session: Session,
    *,
    job_name: str | None = None,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[JobRun]:
    """Runs, newest first (page backwards with `before_id`)."""
    query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job_name is not None:
        query = query.where(JobRun.job_name == job_name)
    if status is not None:
        query = query.where(JobRun.status == status)
    if before_id is not None:
        query = query.where(JobRun.id < before_id)
    if since is not None:
        query = query.where(JobRun.started_at >= since)
    if until is not None:
        query = query.where(JobRun.started_at < until)
    return session.scalars(query).all()


def add_request(
    session: Session, job_name: str, params: dict[str, Any], requested_by: str | None, requested_at: datetime
) -> JobRequest:
    request = JobRequest(
        job_name=job_name, params=params, requested_by=requested_by, requested_at=requested_at
    )
    session.add(request)
    session.flush()
    return request


def claim_pending_requests(session: Session, limit: int, picked_at: datetime) -> list[JobRequest]:
    """Lock the oldest unpicked requests (skipping those another scheduler holds) and mark them picked."""
    requests = list(
        session.scalars(
            select(JobRequest)
            .where(JobRequest.picked_at.is_(None))
            .order_by(JobRequest.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for request in requests:
        request.picked_at = picked_at
    session.flush()
    return requests


def link_request_run(session: Session, request_id: int, job_run_id: int) -> None:
    session.execute(update(JobRequest).where(JobRequest.id == request_id).values(job_run_id=job_run_id))


def get_request(session: Session, request_id: int) -> JobRequest | None:
    return session.get(JobRequest, request_id)


def list_requests(session: Session, *, pending_only: bool = False, limit: int = 100) -> Sequence[JobRequest]:
    """Requests, newest first."""
    query = select(JobRequest).order_by(JobRequest.id.desc()).limit(limit)
    if pending_only:
        query = query.where(JobRequest.picked_at.is_(None))
    return session.scalars(query).all()
