"""A real scheduler process loop: runs are recorded, requests served, and it stops when asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from db.tables import Alert, JobRequest, JobRun
from jobs.scheduler import HEARTBEAT_FILE, run_scheduler
from plantwatch.settings import Settings
from services.job_requests import request_job
from services.job_schedule import Schedule


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_slots_are_on_a_shared_grid() -> None:
    every_minute = Schedule("x", timedelta(minutes=1))
    at = datetime(2026, 3, 2, 12, 7, 59, 999000, tzinfo=UTC)
    assert every_minute.slot(at) == datetime(2026, 3, 2, 12, 7, tzinfo=UTC)
    assert every_minute.slot(datetime(2026, 3, 2, 12, 8, tzinfo=UTC)) == datetime(
        2026, 3, 2, 12, 8, tzinfo=UTC
    )
    daily = Schedule("y", timedelta(days=1), offset=timedelta(minutes=15))
    assert daily.slot(datetime(2026, 3, 2, 0, 10, tzinfo=UTC)) == datetime(2026, 3, 1, 0, 15, tzinfo=UTC)


def test_two_schedulers_record_runs_serve_requests_and_stop(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    settings = settings.model_copy(
        update={"silent_check_interval_s": 1, "silent_after_s": 60, "job_request_poll_s": 0.05}
    )
    with transaction(session_factory) as session:
        quiet = register_machine(session, "plant", "line", "quiet")
        quiet.last_seen_at = datetime.now(UTC) - timedelta(minutes=5)
        request_id = request_job(session, "silent_machines", {}, "test").id

    def runs() -> list[JobRun]:
        with session_factory() as session:
            return list(session.scalars(select(JobRun).order_by(JobRun.id)))

    stop = threading.Event()
    threads = [threading.Thread(target=run_scheduler, args=(settings, stop)) for _ in range(2)]
    started = time.time()
    for thread in threads:
        thread.start()
    try:
        assert _wait_for(
            lambda: sum(r.job_name == "silent_machines" and r.trigger == "schedule" for r in runs()) >= 2
        ), f"silent_machines did not run twice on schedule: {[(r.job_name, r.status) for r in runs()]}"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    assert not any(thread.is_alive() for thread in threads), "the scheduler did not stop when asked"

    recorded = runs()
    assert all(r.status == "succeeded" for r in recorded), [(r.job_name, r.error) for r in recorded]
    scheduled = [
        r.scheduled_for for r in recorded if r.job_name == "silent_machines" and r.trigger == "schedule"
    ]
    assert len(scheduled) == len(set(scheduled)) and all(t.microsecond == 0 for t in scheduled)
    # Only the leader ran the start-up partition upkeep (the other never led: it fired nothing).
    assert sum(r.job_name == "partition_upkeep" for r in recorded) == 1
    with session_factory() as session:
        request = session.get_one(JobRequest, request_id)
        (alert,) = session.scalars(select(Alert))
    assert request.job_run_id is not None and request.picked_at is not None
    assert alert.rule == "silent" and alert.count >= 2
    assert HEARTBEAT_FILE.stat().st_mtime >= started


def test_the_scheduler_survives_a_database_restart(
    postgres: Any, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    settings = settings.model_copy(update={"job_request_poll_s": 0.05})
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(settings, stop))
    thread.start()
    try:

        def upkeep_ran() -> bool:
            with session_factory() as session:
                return (
                    session.scalar(select(JobRun.id).where(JobRun.job_name == "partition_upkeep")) is not None
                )

        assert _wait_for(upkeep_ran)
        postgres.restart()  # the scheduler polls throughout: its connections break, it keeps going
        with transaction(session_factory) as session:
            request_id = request_job(session, "silent_machines", {}, "after-restart").id

        def served() -> bool:
            with session_factory() as session:
                return session.get_one(JobRequest, request_id).job_run_id is not None

        assert _wait_for(served), "the request made after the restart was not served"
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
