"""Run a job once and record it in `job_runs`: claim the firing first, then record how it went.

The claim (INSERT … ON CONFLICT DO NOTHING on the unique (job_name, scheduled_for)) is committed
before the job starts, so a firing that another scheduler already claimed is skipped. A job's work and
its `succeeded` record commit together; a failure rolls the work back and is recorded with its error
text. A transient failure (the database or network gone) is retried `job_retries` times with
exponential backoff from `job_retry_base_s`; no statement of a job runs longer than `job_timeout_s`.
Nothing here raises: a failing job never brings the scheduler down.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from db.base import utcnow
from db.engine import transaction
from db.repositories import job_runs as repo
from jobs.metrics import measured
from jobs.registry import JOBS, JobFn
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000
RunStatus = Literal["succeeded", "failed", "skipped"]


@dataclass(frozen=True)
class RunResult:
    job_name: str
    status: RunStatus
    run_id: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def is_transient(exc: BaseException) -> bool:
    """Worth another try: the database or the network went away (not a timeout, not a bug, not bad data)."""
    if isinstance(exc, OperationalError):
        return not isinstance(exc.orig, psycopg.errors.QueryCanceled)
    return isinstance(exc, (InterfaceError, ConnectionError))


def describe(exc: BaseException | None) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@measured
def run_job(
    factory: sessionmaker[Session],
    settings: Settings,
    job_name: str,
    scheduled_for: datetime,
    *,
    trigger: str = "schedule",
    params: Mapping[str, Any] | None = None,
    jobs: Mapping[str, JobFn] = JOBS,
) -> RunResult:
    """Claim the firing (job_name, scheduled_for), run the job and record the outcome."""
    started = utcnow()
    try:
        with transaction(factory) as session:
            run_id = repo.claim_run(session, job_name, scheduled_for, trigger, started)
    except Exception as exc:
        log.error(
            "job %s (%s) not run: could not claim its run: %s",
            job_name,
            scheduled_for.isoformat(),
            describe(exc),
            exc_info=not isinstance(exc, OperationalError),  # the database is down: no traceback
        )
        return RunResult(job_name, "failed", error=describe(exc))
    if run_id is None:
        log.info("job %s for %s already claimed by another scheduler: skipped", job_name, scheduled_for)
        return RunResult(job_name, "skipped")

    fn = jobs.get(job_name)
    if fn is None:
        error = f"unknown job {job_name!r}; known jobs: {', '.join(sorted(jobs))}"
        log.error("run %d: %s", run_id, error)
        return _record_failure(factory, job_name, run_id, error)
    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(settings.job_retries + 1),
        wait=wait_exponential(multiplier=settings.job_retry_base_s),
        before_sleep=lambda state: log.warning(
            "job %s (run %d) attempt %d failed (%s); retrying",
            job_name,
            run_id,
            state.attempt_number,
            describe(state.outcome.exception()) if state.outcome else "?",
        ),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt, transaction(factory) as session:
                # The job's timeout: no statement of its transaction runs longer.
                session.execute(text(f"SET LOCAL statement_timeout = {int(settings.job_timeout_s * 1000)}"))
                summary = dict(fn(session, settings, started, **dict(params or {})))
                repo.finish_run(session, run_id, "succeeded", utcnow(), summary)
    except Exception as exc:
        log.exception("job %s (run %d) failed", job_name, run_id)
        return _record_failure(factory, job_name, run_id, describe(exc))
    seconds = (utcnow() - started).total_seconds()
    log.info("job %s (run %d) succeeded in %.2f s: %s", job_name, run_id, seconds, summary)
    return RunResult(job_name, "succeeded", run_id, summary)


def _record_failure(factory: sessionmaker[Session], job_name: str, run_id: int, error: str) -> RunResult:
    try:
        with transaction(factory) as session:
            repo.finish_run(session, run_id, "failed", utcnow(), {}, error)
    except Exception:
        log.exception("run %d of job %s: could not record its failure", run_id, job_name)
    return RunResult(job_name, "failed", run_id, error=error)
