"""The scheduler process: APScheduler fires the periodic jobs, the main loop serves job requests.

Periodic jobs fire on a fixed UTC grid (every N seconds from 2000-01-01, plus an offset), so every
replica computes the same `scheduled_for` for a firing and the claim in `job_runs` lets one of them
run it. Job requests from the API are served one at a time on a worker thread, polled every
`job_request_poll_s`. The main loop also touches HEARTBEAT_FILE, which the container health check reads.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.engine import make_engine, make_session_factory
from jobs.leader import Leadership, leadership_for
from jobs.requests import RequestPoller, ServedRequest
from jobs.runs import run_job
from plantwatch.metrics import serve_metrics
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

GRID_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
HEARTBEAT_FILE = Path(tempfile.gettempdir()) / "plantwatch-scheduler.alive"


@dataclass(frozen=True)
class Schedule:
    """Fire `job_name` every `every`, on the grid GRID_ORIGIN + offset + k·every."""

    job_name: str
    every: timedelta
    offset: timedelta = timedelta(0)
    at_start: bool = False

    @property
    def anchor(self) -> datetime:
        return GRID_ORIGIN + self.offset

    def slot(self, now: datetime) -> datetime:
        """The grid time of the firing that is due at `now` (the latest one not after it)."""
        return self.anchor + ((now - self.anchor) // self.every) * self.every


def schedules(settings: Settings) -> list[Schedule]:
    return [
        Schedule("silent_machines", timedelta(seconds=settings.silent_check_interval_s)),
        Schedule("partition_upkeep", timedelta(days=1), offset=timedelta(minutes=15), at_start=True),
        Schedule("rollups", timedelta(seconds=settings.rollup_interval_s), offset=timedelta(seconds=5)),
        Schedule("train_rul", timedelta(days=1), offset=timedelta(hours=settings.rul_train_hour_utc)),
        Schedule(
            "score_machines", timedelta(seconds=settings.score_interval_s), offset=timedelta(seconds=20)
        ),
    ]


def _fire(
    factory: sessionmaker[Session], settings: Settings, leadership: Leadership, schedule: Schedule
) -> None:
    if leadership.is_leader():
        run_job(factory, settings, schedule.job_name, schedule.slot(utcnow()))


def _fire_at_start(
    factory: sessionmaker[Session], settings: Settings, leadership: Leadership, job_name: str, at: datetime
) -> None:
    if leadership.is_leader():
        run_job(factory, settings, job_name, at)


def build_scheduler(
    factory: sessionmaker[Session], settings: Settings, leadership: Leadership, started: datetime
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": JobExecutor(max_workers=4)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    for schedule in schedules(settings):
        scheduler.add_job(
            _fire,
            IntervalTrigger(seconds=schedule.every.total_seconds(), start_date=schedule.anchor, timezone=UTC),
            args=[factory, settings, leadership, schedule],
            id=schedule.job_name,
            name=schedule.job_name,
            # A firing late by less than one period still runs (coalesced into one run).
            misfire_grace_time=max(1, int(schedule.every.total_seconds())),
        )
        if schedule.at_start:
            scheduler.add_job(
                _fire_at_start,
                DateTrigger(run_date=started, timezone=UTC),
                args=[factory, settings, leadership, schedule.job_name, started],
                id=f"{schedule.job_name}@start",
                name=f"{schedule.job_name} (at start)",
                misfire_grace_time=None,
            )
    return scheduler


def _heartbeat() -> None:
    try:
        HEARTBEAT_FILE.touch()
    except OSError as exc:  # the health check then reports it; scheduling goes on
        log.debug("could not touch %s: %s", HEARTBEAT_FILE, exc)


def run_scheduler(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run the scheduled jobs and serve job requests until `stop` is set."""
    if not settings.database_url:
        raise ValueError("the scheduler needs DATABASE_URL")
    stop = stop or threading.Event()
    if not log.isEnabledFor(logging.DEBUG):
        # APScheduler logs every firing at INFO; our runs log their own outcome.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    serve_metrics(settings, "scheduler")  # job runs by job and status (jobs/metrics.py)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    leadership = leadership_for(settings)
    scheduler = build_scheduler(factory, settings, leadership, utcnow())
    poller = RequestPoller(factory, settings)
    requests_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-requests")
    serving: Future[list[ServedRequest]] | None = None
    scheduler.start()
    for job in scheduler.get_jobs():
        log.info("scheduled %s: next run at %s", job.name, job.next_run_time.isoformat())
    try:
        while not stop.is_set():
            _heartbeat()
            # Claim requests only when idle, so none waits picked-but-queued in this process.
            if (serving is None or serving.done()) and leadership.is_leader():
                serving = requests_worker.submit(poller.drain, stop)
            stop.wait(settings.job_request_poll_s)
    finally:
        log.info("scheduler stopping: waiting for running jobs to finish")
        scheduler.shutdown(wait=True)
        requests_worker.shutdown(wait=True)
        leadership.release()
        engine.dispose()
        log.info("scheduler stopped")
