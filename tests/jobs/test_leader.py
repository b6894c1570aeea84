"""Leader election on a real PostgreSQL: one leader at a time, a fast takeover, each firing run once.

The last test runs two `plantwatch scheduler` processes, kills the leader with SIGKILL and checks
the `job_runs` table: every firing of a 1-second job is there once, with no long gap at the takeover.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import libpq_url
from db.tables import JobRun
from jobs.leader import AdvisoryLockLeadership
from jobs.scheduler import on_leadership
from plantwatch.embedded import free_port
from plantwatch.settings import Settings
from services.job_schedule import schedules

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def pair(migrated_url: str) -> Iterator[list[AdvisoryLockLeadership]]:
    """Two candidates for one lock (a key of their own), started one after the other."""
    key, fast = random.randrange(1, 1 << 62), {"check_interval_s": 0.2, "retry_interval_s": 0.2}
    candidates = [AdvisoryLockLeadership(migrated_url, key, check_timeout_s=1.0, **fast) for _ in range(2)]
    yield candidates
    for candidate in candidates:
        candidate.release()


def test_one_leads_and_the_other_takes_over_when_it_lets_go(
    pair: list[AdvisoryLockLeadership], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobs.leader")
    changes: list[list[bool]] = [[], []]
    for candidate, heard in zip(pair, changes, strict=True):
        candidate.start(heard.append)
    first, second = pair
    assert first.is_leader() and not second.is_leader()
    time.sleep(0.6)  # several checks and tries later, nothing has changed
    assert first.is_leader() and not second.is_leader()
    assert changes == [[True], []]

    first.release()
    assert not first.is_leader()
    assert _wait_for(second.is_leader, 3), "the follower did not take over within 3 s"
    assert changes == [[True, False], [True]]
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("became leader") for m in messages) == 2
    assert any(m.startswith("following another scheduler") for m in messages)
    assert any(m == "released leadership (shutting down)" for m in messages)


def test_a_leader_whose_connection_dies_steps_down_and_the_follower_leads(
    pair: list[AdvisoryLockLeadership], migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobs.leader")
    first, second = pair
    first.start()
    second.start()
    assert first.is_leader() and not second.is_leader()
    with psycopg.connect(libpq_url(migrated_url), autocommit=True) as admin:
        terminated = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = %s AND objid::bigint = %s",
            ((first.key >> 32) & 0xFFFFFFFF, first.key & 0xFFFFFFFF),
        ).fetchall()
    assert terminated == [(True,)]
    assert _wait_for(lambda: not first.is_leader(), 2), "the old leader did not notice within 2 s"
    assert _wait_for(second.is_leader, 3), "the follower did not take over within 3 s"
    time.sleep(0.5)  # the old leader tries again, and now follows
    assert second.is_leader() and not first.is_leader()
    lost = [r.getMessage() for r in caplog.records if r.getMessage().startswith("lost leadership: ")]
    assert len(lost) == 1 and "health check failed" in lost[0], lost


def test_a_frozen_leader_loses_the_lock_after_its_lease(pair: list[AdvisoryLockLeadership]) -> None:
    first, second = pair
    first.start()
    second.start()
    assert first.is_leader()
    # Freeze the leader as a stopped process or a stuck thread would: no more checks, connection open.
    assert first._thread is not None
    first._stop.set()
    first._thread.join()
    assert _wait_for(lambda: not first.is_leader(), first.lease_s + 0.5)
    # PostgreSQL ends the idle session (idle_session_timeout = the lease), so the lock is free again.
    assert _wait_for(second.is_leader, first.lease_s + 3), "the follower did not take over"


def test_a_leader_steps_down_when_postgresql_restarts_and_leads_again(
    pair: list[AdvisoryLockLeadership], postgres: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobs.leader")
    leader = pair[0]
    leader.start()
    assert leader.is_leader()
    postgres.restart()  # the lock goes with the server; nobody else is waiting for it

    def said(start: str) -> int:
        return sum(r.getMessage().startswith(start) for r in caplog.records)

    assert _wait_for(lambda: said("lost leadership: health check failed") == 1, 5), caplog.text
    assert _wait_for(leader.is_leader, 10), f"not leading again 10 s after the restart:\n{caplog.text}"
    assert said("became leader") == 2


def test_a_new_leader_runs_the_start_up_jobs_and_the_firings_it_let_pass() -> None:
    settings = Settings(database_url="postgresql://unused")
    scheduler = BackgroundScheduler(timezone=UTC)  # never started: we only look at what is added
    passed = {
        "silent_machines": datetime.now(UTC) - timedelta(seconds=settings.silent_check_interval_s / 2),
        "rollups": datetime.now(UTC) - timedelta(seconds=settings.rollup_interval_s * 2),  # too old
    }
    let_pass = passed["silent_machines"]
    never_started = AdvisoryLockLeadership("postgresql://unused/db", 1)
    changed = on_leadership(scheduler, sessionmaker(), settings, never_started, passed)
    changed(False)
    assert scheduler.get_jobs() == []
    changed(True)
    added = sorted((job.args[3].job_name, job.args[4]) for job in scheduler.get_jobs())
    at_start = [s.job_name for s in schedules(settings) if s.at_start]
    assert [name for name, _ in added] == sorted(["silent_machines", *at_start])
    assert ("silent_machines", let_pass) in added
    assert passed == {}


class SchedulerProcess:
    """`python -m plantwatch scheduler` in a child process, with its own metrics port and log."""

    def __init__(self, work: Path, name: str, db_url: str, key: int) -> None:
        self.log_path = work / f"{name}.log"
        self.metrics_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTWATCH_") and k != "DATABASE_URL"}
        env.update(
            PYTHONPATH=str(ROOT),
            DATABASE_URL=db_url,
            PLANTWATCH_VAR_DIR=str(work / "var"),
            PLANTWATCH_METRICS_PORT=str(self.metrics_port),
            PLANTWATCH_SILENT_CHECK_INTERVAL_S="1",
            PLANTWATCH_LEADER_LOCK_KEY=str(key),
            PLANTWATCH_LEADER_CHECK_INTERVAL_S="0.5",
            PLANTWATCH_LEADER_RETRY_INTERVAL_S="0.5",
        )
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "plantwatch", "scheduler"],
                cwd=work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def metric(self, name: str, job: str | None = None) -> float | None:
        """The sum of the samples of `name` (of `job`) it serves, or None while it does not answer."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return None
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name and (job is None or s.labels.get("job") == job)
        )

    def leader(self) -> float:
        """Its plantwatch_scheduler_leader gauge: 1 or 0, or -1 while it does not answer."""
        gauge = self.metric("plantwatch_scheduler_leader")
        return -1 if gauge is None else gauge

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: a clean stop
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def test_two_scheduler_processes_run_each_firing_once_across_a_kill_of_the_leader(
    session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    def recorded() -> list[JobRun]:
        with session_factory() as session:
            query = select(JobRun).where(JobRun.job_name == "silent_machines")
            return list(session.scalars(query.order_by(JobRun.scheduled_for)))

    key = random.randrange(1, 1 << 62)
    processes = [SchedulerProcess(tmp_path, name, db_url, key) for name in ("a", "b")]
    try:
        assert _wait_for(lambda: sorted(p.leader() for p in processes) == [0, 1], 30), "\n".join(
            p.log()[-2000:] for p in processes
        )
        leader, follower = sorted(processes, key=lambda p: -p.leader())
        assert _wait_for(lambda: len(recorded()) >= 3, 10), leader.log()[-2000:]
        assert follower.metric("plantwatch_job_runs_total", "silent_machines") == 0, "the follower fired"
        assert (leader.metric("plantwatch_job_runs_total", "silent_machines") or 0) >= 3

        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(5)
        killed_at = datetime.now(UTC)
        assert _wait_for(lambda: follower.leader() == 1, 5), follower.log()[-2000:]
        took_over_s = (datetime.now(UTC) - killed_at).total_seconds()
        assert _wait_for(lambda: recorded()[-1].scheduled_for > killed_at + timedelta(seconds=3), 10)
    finally:
        for process in processes:
            process.stop()

    runs = recorded()
    slots = [r.scheduled_for for r in runs]
    assert len(slots) == len(set(slots))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slots)]
    assert max(gaps) <= 3, f"a gap of {max(gaps)} s around the takeover ({took_over_s:.1f} s): {slots}"
    # The leader may have been killed in the middle of a run, which then stays `running`.
    unfinished = [r for r in runs if r.status != "succeeded"]
    assert len(unfinished) <= 1 and all(r.status == "running" for r in unfinished), unfinished
    assert "became leader" in follower.log() and "became leader" in leader.log()
