"""Rules of the jobs endpoints: the web process only records requests; the scheduler runs jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.errors import ApiError, not_found
from api.jobs.schemas import JobOut, JobRequestOut, JobRunOut
from api.pagination import Page, TimeRange, decode_id_cursor, decode_name_cursor, encode_cursor
from db.base import utcnow
from db.repositories import job_runs
from db.tables import JobRequest
from plantwatch.settings import Settings
from services import job_requests
from services.job_schedule import schedules


def list_jobs(session: Session, settings: Settings, *, cursor: str | None, limit: int) -> Page[JobOut]:
    """The jobs by name, `limit` at a time, after the job the cursor names."""
    now = utcnow()
    after = decode_name_cursor(cursor)
    by_name = {schedule.job_name: schedule for schedule in schedules(settings)}
    names = sorted(name for name in job_requests.JOB_NAMES if after is None or name > after)
    jobs = []
    for name in names[:limit]:
        last = job_runs.list_runs(session, job_name=name, limit=1)
        schedule = by_name.get(name)
        jobs.append(
            JobOut(
                name=name,
                every_s=schedule.every.total_seconds() if schedule else None,
                next_run_at=schedule.next_after(now) if schedule else None,
                params=dict(schedule.params) if schedule else {},
                last_run=JobRunOut.model_validate(last[0]) if last else None,
            )
        )
    return Page(items=jobs, next_cursor=encode_cursor(jobs[-1].name) if len(names) > limit else None)


def list_runs(
    session: Session,
    *,
    job_name: str | None,
    status: str | None,
    period: TimeRange,
    cursor: str | None,
    limit: int,
) -> Page[JobRunOut]:
    before = decode_id_cursor(cursor) or None
    runs = job_runs.list_runs(
        session,
        job_name=job_name,
        status=status,
        before_id=before,
        since=period.since,
        until=period.until,
        limit=limit + 1,
    )
    items = [JobRunOut.model_validate(run) for run in runs[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(runs) > limit else None)


def request_run(session: Session, job_name: str, params: dict[str, Any], requested_by: str) -> JobRequestOut:
    try:
        request = job_requests.request_job(session, job_name, params, requested_by)
    except job_requests.UnknownJobError as error:
        raise ApiError(404, str(error)) from error
    session.flush()
    return _request_out(session, request)


def get_request(session: Session, request_id: int) -> JobRequestOut:
    request = job_runs.get_request(session, request_id) if 0 < request_id < 2**63 else None
    if request is None:
        raise not_found(f"no job request {request_id}")
    return _request_out(session, request)


def _request_out(session: Session, request: JobRequest) -> JobRequestOut:
    run = job_runs.get_run(session, request.job_run_id) if request.job_run_id else None
    return JobRequestOut(
        id=request.id,
        job_name=request.job_name,
        params=request.params,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        picked_at=request.picked_at,
        run=JobRunOut.model_validate(run) if run else None,
    )
