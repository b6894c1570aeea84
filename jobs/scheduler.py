"""The scheduler process: APScheduler fires the periodic jobs, the main loop serves job requests.

Periodic jobs fire on a fixed UTC grid (every N seconds from 2000-01-01, plus an offset), so every
replica computes the same `scheduled_for` for a firing and the claim in `job_runs` lets one of them
run it. Of several replicas only the elected leader (jobs/leader.py) runs firings and serves requests;
on becoming the leader a scheduler runs the start-up jobs and the latest firing of each job that it let
pass while following, which the claim skips if the old leader ran it. Job requests from the API are
served one at a time on a worker thread, polled every `job_request_poll_s`. The main loop also writes
HEARTBEAT_FILE (`leader` or `follower`), whose age the container health check reads.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
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
from jobs.metrics import SCHEDULER_LEADER
from jobs.requests import RequestPoller, ServedRequest
from jobs.runs import run_job
from plantwatch.metrics import serve_metrics
from plantwatch.settings import Settings
from services.job_schedule import Schedule, schedules

log = logging.getLogger(__name__)

HEARTBEAT_FILE = Path(tempfile.gettempdir()) / "plantwatch-scheduler.alive"


def _fire(
    factory: sessionmaker[Session],
    settings: Settings,
    leadership: Leadership,
    schedule: Schedule,
    passed: dict[str, datetime],
) -> None:
    slot = schedule.slot(utcnow())
    if leadership.is_leader():
        run_job(factory, settings, schedule.job_name, slot, params=schedule.params)
    else:
        passed[schedule.job_name] = slot  # the leader runs it; this process too, if it takes over


def _fire_at(
    factory: sessionmaker[Session],
    settings: Settings,
    leadership: Leadership,
    schedule: Schedule,
    at: datetime,
) -> None:
    if leadership.is_leader():
        run_job(factory, settings, schedule.job_name, at, params=schedule.params)


def on_leadership(
    scheduler: BackgroundScheduler,
    factory: sessionmaker[Session],
    settings: Settings,
    leadership: Leadership,
    passed: dict[str, datetime],
) -> Callable[[bool], None]:
    """On becoming the leader: run the start-up jobs, and each job's latest firing let pass as follower."""

    def changed(leading: bool) -> None:
        if not leading:
            return
        now = utcnow()
        for schedule in schedules(settings):
            firings = [now] if schedule.at_start else []
            slot = passed.pop(schedule.job_name, None)
            if slot is not None and now - slot < schedule.every:  # as APScheduler's misfire grace
                firings.append(slot)
            for at in firings:
                scheduler.add_job(
                    _fire_at,
                    DateTrigger(timezone=UTC),  # now
                    args=[factory, settings, leadership, schedule, at],
                    name=f"{schedule.job_name} (on becoming leader)",
                    misfire_grace_time=None,
                )

    return changed


def build_scheduler(
    factory: sessionmaker[Session],
    settings: Settings,
    leadership: Leadership,
    passed: dict[str, datetime],
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
            args=[factory, settings, leadership, schedule, passed],
            id=schedule.job_name,
            name=schedule.job_name,
            # A firing late by less than one period still runs (coalesced into one run).
            misfire_grace_time=max(1, int(schedule.every.total_seconds())),
        )
    return scheduler


def _heartbeat(leading: bool) -> None:
    try:
        HEARTBEAT_FILE.write_text("leader\n" if leading else "follower\n")
    except OSError as exc:  # the health check then reports it; scheduling goes on
        log.debug("could not write %s: %s", HEARTBEAT_FILE, exc)


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
    SCHEDULER_LEADER.set_function(lambda: float(leadership.is_leader()))
    passed: dict[str, datetime] = {}
    scheduler = build_scheduler(factory, settings, leadership, passed)
    poller = RequestPoller(factory, settings)
    requests_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-requests")
    serving: Future[list[ServedRequest]] | None = None
    scheduler.start()
    for job in scheduler.get_jobs():
        log.info("scheduled %s: next run at %s", job.name, job.next_run_time.isoformat())
    try:
        leadership.start(on_leadership(scheduler, factory, settings, leadership, passed))
        while not stop.is_set():
            _heartbeat(leadership.is_leader())
            # Claim requests only when idle, so none waits picked-but-queued in this process.
            if (serving is None or serving.done()) and leadership.is_leader():
                serving = requests_worker.submit(poller.drain, stop)
            stop.wait(settings.job_request_poll_s)
    finally:
        log.info("scheduler stopping: waiting for running jobs to finish")
        leadership.release()  # first, so that another scheduler takes over while these jobs finish
        scheduler.shutdown(wait=True)
        requests_worker.shutdown(wait=True)
        engine.dispose()
        log.info("scheduler stopped")
