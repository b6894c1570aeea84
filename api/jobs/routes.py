"""HTTP routes of jobs: what is scheduled and how it went, and asking the scheduler to run one now."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.deps import ReadKey, SessionDep, SettingsDep, require_role
from api.jobs import service
from api.jobs.schemas import JobOut, JobRequestIn, JobRequestOut, JobRunOut
from api.pagination import Page, TimeRangeDep, page_size
from api.schemas import ERROR_RESPONSES
from db.tables import ApiKey

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)
AdminKey = Annotated[ApiKey, Depends(require_role("admin"))]


@router.get("", summary="Jobs: schedule, next run and last run, by name")
def list_jobs(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Jobs per page (default 100).")] = None,
) -> Page[JobOut]:
    size = page_size(limit, settings.api_max_page, "jobs")
    return service.list_jobs(session, settings, cursor=cursor, limit=size)


@router.get("/runs", summary="Job runs, newest first")
def list_runs(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    period: TimeRangeDep,
    job: Annotated[str | None, Query(max_length=64, description="Only runs of this job.")] = None,
    status: Annotated[Literal["running", "succeeded", "failed"] | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Runs per page (default 100).")] = None,
) -> Page[JobRunOut]:
    size = page_size(limit, settings.api_max_page, "runs")
    return service.list_runs(session, job_name=job, status=status, period=period, cursor=cursor, limit=size)


@router.post(
    "/{job_name}/requests",
    status_code=202,
    summary="Ask the scheduler to run a job now (admin)",
    description="Records a request; the scheduler picks it up within seconds and records the run. "
    "Poll `GET /jobs/requests/{id}` for its outcome.",
)
def request_run(
    session: SessionDep,
    key: AdminKey,
    job_name: Annotated[str, Path(max_length=64)],
    body: JobRequestIn | None = None,
) -> JobRequestOut:
    return service.request_run(session, job_name, body.params if body else {}, key.name)


@router.get("/requests/{request_id}", summary="A job request and the run it led to")
def get_request(session: SessionDep, _key: ReadKey, request_id: Annotated[int, Path(ge=1)]) -> JobRequestOut:
    return service.get_request(session, request_id)
