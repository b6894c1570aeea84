"""Job runs: a firing is claimed once, and every outcome (success, failure, unknown job) is recorded."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db.partitions import existing_partitions, partition_name
from db.repositories.assets import register_machine
from db.tables import JobRun, Site
from jobs.registry import JOBS
from jobs.runs import run_job
from plantwatch.settings import Settings
from services.job_requests import JOB_NAMES

SLOT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _runs(factory: sessionmaker[Session]) -> list[JobRun]:
    with factory() as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.id)))


def test_registry_matches_the_requestable_job_names() -> None:
    assert set(JOBS) == set(JOB_NAMES)


def test_the_same_firing_runs_once(session_factory: sessionmaker[Session], settings: Settings) -> None:
    calls: list[datetime] = []

    def count(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
        calls.append(now)
        return {"calls": len(calls)}

    jobs = {"count": count}
    first = run_job(session_factory, settings, "count", SLOT, jobs=jobs)
    second = run_job(session_factory, settings, "count", SLOT, jobs=jobs)
    third = run_job(session_factory, settings, "count", SLOT + timedelta(minutes=1), jobs=jobs)

    assert (first.status, second.status, third.status) == ("succeeded", "skipped", "succeeded")
    assert len(calls) == 2 and second.run_id is None
    runs = _runs(session_factory)
    assert [(r.job_name, r.scheduled_for, r.status) for r in runs] == [
        ("count", SLOT, "succeeded"),
        ("count", SLOT + timedelta(minutes=1), "succeeded"),
    ]
    assert runs[0].summary == {"calls": 1} and runs[0].error is None
    assert runs[0].finished_at is not None and runs[0].finished_at >= runs[0].started_at
    assert runs[0].trigger == "schedule"


def test_a_failure_is_recorded_and_its_work_rolled_back(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    def breaks(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
        register_machine(session, "plant", "line", "half-done")
        raise RuntimeError("sensor table exploded")

    result = run_job(session_factory, settings, "breaks", SLOT, jobs={"breaks": breaks})

    assert result.status == "failed" and result.error == "RuntimeError: sensor table exploded"
    (run,) = _runs(session_factory)
    assert run.status == "failed" and run.error == "RuntimeError: sensor table exploded"
    assert run.finished_at is not None and run.summary == {}
    with session_factory() as session:
        assert session.scalar(select(Site.id)) is None


def test_an_unknown_job_is_recorded_as_failed(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    result = run_job(session_factory, settings, "no_such_job", SLOT, trigger="request")
    assert result.status == "failed"
    (run,) = _runs(session_factory)
    assert run.job_name == "no_such_job" and run.status == "failed" and run.trigger == "request"
    assert run.error is not None and "unknown job 'no_such_job'" in run.error


def test_a_summary_that_is_not_json_fails_the_run(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    def odd(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
        return {"when": object()}

    result = run_job(session_factory, settings, "odd", SLOT, jobs={"odd": odd})
    assert result.status == "failed"
    (run,) = _runs(session_factory)
    assert run.status == "failed" and run.error


def test_partition_upkeep_run_creates_partitions(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    settings = settings.model_copy(update={"partition_days_ahead": 2})
    result = run_job(session_factory, settings, "partition_upkeep", SLOT)
    assert result.status == "succeeded"
    today = datetime.now(UTC).date()
    wanted = {partition_name(today + timedelta(days=d)) for d in (-1, 0, 1, 2)}
    with session_factory() as session:
        assert wanted <= existing_partitions(session)
    assert set(result.summary["created"]) <= wanted
    assert result.summary["last"] == (today + timedelta(days=2)).isoformat()
    again = run_job(session_factory, settings, "partition_upkeep", SLOT + timedelta(days=1))
    assert again.status == "succeeded" and again.summary["created"] == []


def test_concurrent_schedulers_run_a_firing_once(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    started = threading.Barrier(4)
    calls: list[int] = []

    def slow(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
        calls.append(1)
        time.sleep(0.2)
        return {}

    def fire() -> str:
        started.wait()
        return run_job(session_factory, settings, "slow", SLOT, jobs={"slow": slow}).status

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda _: fire(), range(4)))
    assert statuses == ["skipped", "skipped", "skipped", "succeeded"]
    assert len(calls) == 1


def test_transient_failures_are_retried_with_backoff_others_are_not(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    quick = settings.model_copy(update={"job_retries": 2, "job_retry_base_s": 0.05})
    calls: dict[str, int] = {"flaky": 0, "broken": 0, "down": 0}

    def flaky(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
        calls["flaky"] += 1
        if calls["flaky"] == 1:  # the database went away once: a real connection error
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        register_machine(session, "plant", "line", "flaky")
        return {"attempts": calls["flaky"]}

    def broken(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
        calls["broken"] += 1
        raise ValueError("a bug, not the network")

    def down(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
        calls["down"] += 1
        raise ConnectionError("broker unreachable")

    jobs = {"flaky": flaky, "broken": broken, "down": down}
    started = time.perf_counter()
    assert run_job(session_factory, quick, "flaky", SLOT, jobs=jobs).summary == {"attempts": 2}
    assert run_job(session_factory, quick, "broken", SLOT, jobs=jobs).status == "failed"
    failed = run_job(session_factory, quick, "down", SLOT, jobs=jobs)
    assert (failed.status, failed.error) == ("failed", "ConnectionError: broker unreachable")
    assert calls == {"flaky": 2, "broken": 1, "down": 3}
    assert time.perf_counter() - started >= 0.05 + 0.05 + 0.1, "no backoff between attempts"
    assert [r.status for r in _runs(session_factory)] == ["succeeded", "failed", "failed"]


def test_a_job_past_its_timeout_fails_without_retry(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    calls: list[int] = []

    def slow(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
        calls.append(1)
        session.execute(text("SELECT pg_sleep(5)"))
        return {}

    tight = settings.model_copy(update={"job_timeout_s": 0.3, "job_retry_base_s": 0.01})
    result = run_job(session_factory, tight, "slow", SLOT, jobs={"slow": slow})
    assert result.status == "failed" and "statement timeout" in (result.error or "")
    assert calls == [1]
