"""The `retention` job on the real database: what goes, what stays and why, and running it twice."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.partitions import (
    DEFAULT_PARTITION,
    ensure_daily_partitions,
    existing_partitions,
    is_partition_name,
    partition_name,
)
from db.repositories.assets import register_machine
from db.repositories.retention import pin_backtest, unpin_backtest
from db.repositories.rollups import sealed_state
from db.rollups import refresh_rollups
from db.tables import DeadLetter, JobRun, ModelVersion, Prediction, ReadingRollup1h, ReadingRollup1m
from jobs.retention import apply_retention
from jobs.runs import run_job
from plantwatch.settings import Settings
from services.job_schedule import schedules

# Far before every other test's data, so that the partitions this drops are only ours.
NOW = datetime(2021, 1, 1, 12, 0, tzinfo=UTC)  # raw cutoff (30 days): 2020-12-02 00:00
DAYS = [date(2020, 11, 20) + timedelta(days=k) for k in range(10)]  # 11-20 … 11-29, partitioned
SETTINGS = Settings(retention_raw_days=30, retention_1m_days=35)  # 1-minute cutoff: 2020-11-27


def _at(day: date, hour: int = 11, minute: int = 55) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_daily_partitions(db_url: str, engine: Engine) -> None:
    """Start without daily partitions: other tests of the session leave theirs (emptied) behind."""
    with Session(engine) as session, session.begin():
        for name in sorted(existing_partitions(session)):
            if is_partition_name(name) and name != DEFAULT_PARTITION:
                session.execute(text(f'DROP TABLE IF EXISTS "{name}"'))


def _plant(session: Session, default_days: list[date], rolled_until: datetime | None) -> None:
    """One reading a day on DAYS (each in its partition) and on `default_days` (default partition)."""
    ensure_daily_partitions(session, DAYS[0], DAYS[-1])
    for day in DAYS + default_days:
        session.execute(
            text('INSERT INTO readings (machine_id, ts, "values") VALUES (1, :ts, :v)'),
            {"ts": _at(day), "v": [float(day.day)]},
        )
    if rolled_until is not None:
        refresh_rollups(session, until=rolled_until, lateness=timedelta(minutes=10))


def _model(
    session: Session, kind: str, status: str, start: datetime, end: datetime, version: int = 1
) -> None:
    session.add(
        ModelVersion(
            kind=kind, scope="default", version=version, status=status, data_start=start, data_end=end
        )
    )


def _ours(session: Session) -> set[date]:
    return {day for day in DAYS if partition_name(day) in existing_partitions(session)}


def _default_days(session: Session) -> set[date]:
    rows = session.scalars(text("SELECT ts FROM readings_default WHERE machine_id = 1"))
    return {ts.astimezone(UTC).date() for ts in rows}


def _run(factory: sessionmaker[Session], now: datetime = NOW) -> dict[str, object]:
    with transaction(factory) as session:
        return apply_retention(session, SETTINGS, now)


def test_old_days_go_except_the_training_windows_of_champions_and_candidates(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobs.retention")
    with transaction(session_factory) as session:
        _plant(session, [date(2020, 11, 10), date(2020, 11, 12)], rolled_until=NOW)
        _model(session, "rul", "champion", _at(DAYS[3], 10), _at(DAYS[4], 8))  # keeps 11-23, 11-24
        _model(session, "rul", "retired", _at(DAYS[6], 0), _at(DAYS[7], 23), version=2)  # keeps nothing
        _model(session, "health", "candidate", _at(DAYS[8], 5), _at(DAYS[8], 6))  # keeps 11-28
        _model(session, "qc", "champion", _at(DAYS[1], 0), _at(DAYS[1], 23))  # images: keeps nothing
        _model(session, "health", "champion", _at(date(2020, 11, 12), 0), _at(date(2020, 11, 12), 1), 2)
    with session_factory() as session:
        hours = session.execute(select(ReadingRollup1h.bucket, ReadingRollup1h.avg)).all()
        assert len(hours) == len(DAYS) + 2

    with session_factory() as session:
        version_before = sealed_state(session).version
    first = _run(session_factory)

    kept = {DAYS[3], DAYS[4], DAYS[8]}
    assert first["partitions_dropped"] == [partition_name(d) for d in DAYS if d not in kept]
    assert first["partitions_kept"] == {
        "training window of rul default v1 (champion)": 2,
        "training window of health default v1 (candidate)": 1,
    }
    assert first["default_readings_deleted"] == 1
    champion = "training window of rul default v1 (champion)"
    assert f"kept readings_20201123 … readings_20201124 (2 partitions): {champion}" in caplog.messages
    with session_factory() as session:
        assert _ours(session) == kept
        assert _default_days(session) == {date(2020, 11, 12)}  # in the health champion's window
        assert session.execute(select(ReadingRollup1h.bucket, ReadingRollup1h.avg)).all() == hours
        minutes = session.scalars(select(ReadingRollup1m.bucket).order_by(ReadingRollup1m.bucket)).all()
        assert [m.date() for m in minutes] == [DAYS[7], DAYS[8], DAYS[9]]  # from 11-27 on

        version_after = sealed_state(session).version  # 1-minute buckets gone: readers must drop theirs
        assert version_after != version_before

    second = _run(session_factory)
    assert second["partitions_dropped"] == [] and second["partitions_kept"] == first["partitions_kept"]
    assert second["default_readings_deleted"] == second["rollups_1m_deleted"] == 0
    with session_factory() as session:
        assert _ours(session) == kept
        assert sealed_state(session).version == version_after  # nothing deleted, nothing to drop


def test_nothing_at_or_after_the_rollup_watermark_goes(session_factory: sessionmaker[Session]) -> None:
    watermark = _at(DAYS[5], 12, 0)  # 11-25 12:00; minus the 10 min lateness: 11:50
    with transaction(session_factory) as session:
        _plant(session, [date(2020, 11, 10), date(2020, 11, 30)], rolled_until=watermark)

    summary = _run(session_factory)

    assert summary["partitions_dropped"] == [partition_name(d) for d in DAYS[:5]]
    reason = "not rolled up yet (1-minute rollups until 2020-11-25T11:50:00+00:00)"
    assert summary["partitions_kept"] == {reason: 5}
    assert summary["rollups_1m_cutoff"] == "2020-11-25T11:00:00+00:00"  # the hour the refresh reads again
    with session_factory() as session:
        assert _ours(session) == set(DAYS[5:])
        assert _default_days(session) == {date(2020, 11, 30)}
        minutes = session.scalars(select(ReadingRollup1m.bucket)).all()
        assert [m.date() for m in minutes] == [DAYS[5]]  # 11-25 11:55, after the watermark's hour


def test_without_any_rollup_no_reading_goes(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _plant(session, [date(2020, 11, 10)], rolled_until=None)

    summary = _run(session_factory)

    assert summary["partitions_dropped"] == [] and summary["rollups_1m_cutoff"] is None
    assert summary["partitions_kept"] == {"not rolled up yet (the rollups have never run)": len(DAYS)}
    with session_factory() as session:
        assert _ours(session) == set(DAYS)
        assert _default_days(session) == {date(2020, 11, 10)}


def test_predictions_job_runs_and_dead_letters_are_pruned_with_their_exceptions(
    session_factory: sessionmaker[Session],
) -> None:
    def ago(days: float) -> datetime:
        return NOW - timedelta(days=days)

    with transaction(session_factory) as session:
        machines = [register_machine(session, "s", "l", name) for name in ("active", "quiet", "retired")]
        machines[2].retired_at = ago(5)
        active, quiet, retired = (m.id for m in machines)
        for machine, days in ((active, (100, 95, 1)), (quiet, (100, 95)), (retired, (100, 95))):
            session.add_all(Prediction(machine_id=machine, made_at=ago(d)) for d in days)
        runs = [("rollups", "succeeded", 100), ("rollups", "failed", 99), ("rollups", "succeeded", 1),
                ("train_qc", "succeeded", 200), ("train_qc", "failed", 150),
                ("train_rul", "failed", 130), ("train_rul", "running", 120)]  # fmt: skip
        session.add_all(
            JobRun(job_name=job, status=status, scheduled_for=ago(d), started_at=ago(d))
            for job, status, d in runs
        )
        letters = [(40, None, None), (40, 10, None), (50, 35, None), (40, None, 1), (10, None, None)]
        session.add_all(
            DeadLetter(topic=f"t{i}", payload=b"x", reason="bad", received_at=ago(received),
                       replayed_at=None if replayed is None else ago(replayed),
                       replay_requested_at=None if requested is None else ago(requested))
            for i, (received, replayed, requested) in enumerate(letters)
        )  # fmt: skip

    first = _run(session_factory)

    assert (first["predictions_deleted"], first["job_runs_deleted"], first["dead_letters_deleted"]) == (
        5,
        3,
        2,
    )
    with session_factory() as session:
        left = session.execute(select(Prediction.machine_id, Prediction.made_at)).all()
        assert sorted(left) == [(active, ago(1)), (quiet, ago(95))]
        runs_left = session.execute(select(JobRun.job_name, JobRun.status, JobRun.started_at)).all()
        assert sorted(runs_left) == [
            ("rollups", "succeeded", ago(1)),
            ("train_qc", "failed", ago(150)),
            ("train_rul", "failed", ago(130)),
            ("train_rul", "running", ago(120)),
        ]
        assert sorted(session.scalars(select(DeadLetter.topic))) == ["t1", "t3", "t4"]

    second = _run(session_factory)
    assert (second["predictions_deleted"], second["job_runs_deleted"], second["dead_letters_deleted"]) == (
        0,
        0,
        0,
    )


def test_a_busy_readings_table_leaves_the_drops_to_the_next_run(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    with transaction(session_factory) as session:
        _plant(session, [], rolled_until=NOW)
        session.add(DeadLetter(topic="old", payload=b"x", reason="bad", received_at=NOW - timedelta(days=60)))
    holding, release = threading.Event(), threading.Event()

    def reader() -> None:  # a long query on readings, as a training job's
        with engine.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE readings IN ACCESS SHARE MODE"))
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert holding.wait(10)
        summary = _run(session_factory)
    finally:
        release.set()
        thread.join()

    assert summary["partitions_dropped"] == [] and "partitions_not_dropped" in summary
    assert summary["dead_letters_deleted"] == 1  # the rest of the run is kept
    with session_factory() as session:
        assert _ours(session) == set(DAYS)
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
    assert _run(session_factory)["partitions_dropped"] == [partition_name(d) for d in DAYS]


def test_it_runs_daily_at_3_30_and_through_the_job_runner(session_factory: sessionmaker[Session]) -> None:
    (schedule,) = [s for s in schedules(SETTINGS) if s.job_name == "retention"]
    assert schedule.every == timedelta(days=1) and schedule.slot(NOW) == datetime(
        2021, 1, 1, 3, 30, tzinfo=UTC
    )
    keep_all = SETTINGS.model_copy(update={"retention_raw_days": 100_000})  # the runner's clock is real
    result = run_job(session_factory, keep_all, "retention", NOW)
    assert result.status == "succeeded", result.error
    assert result.summary["partitions_dropped"] == []


def test_a_pinned_backtest_keeps_its_history(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _plant(session, [], rolled_until=NOW)
        pin_backtest(session, "press-2020", "press", _at(DAYS[1], 6), _at(DAYS[2], 6), "eve")
    summary = _run(session_factory)
    assert summary["partitions_kept"] == {"pinned backtest 'press-2020'": 2}
    with session_factory() as session:
        assert _ours(session) == {DAYS[1], DAYS[2]}
    with transaction(session_factory) as session:
        assert unpin_backtest(session, "press-2020") and not unpin_backtest(session, "press-2020")
    assert _run(session_factory)["partitions_dropped"] == [partition_name(DAYS[1]), partition_name(DAYS[2])]
