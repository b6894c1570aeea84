"""The `rollups` job through the real job runner: scheduled every minute, and backfills on request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.rollups import HOUR, MINUTE, floor_to, watermarks
from jobs.requests import run_next_request
from jobs.runs import run_job
from plantwatch.settings import Settings
from services.job_requests import request_job
from services.job_schedule import schedules

NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)


def _insert(session: Session, ts: datetime, value: float) -> None:
    session.execute(
        text('INSERT INTO readings (machine_id, ts, "values") VALUES (1, :ts, :v)'), {"ts": ts, "v": [value]}
    )


def _minute(session: Session, bucket: datetime) -> tuple[list[int], list[float]] | None:
    row = session.execute(
        text("SELECT n, avg FROM readings_1m WHERE machine_id = 1 AND bucket = :b"), {"b": bucket}
    ).one_or_none()
    return None if row is None else (list(row[0]), list(row[1]))


def test_the_job_is_scheduled_every_rollup_interval() -> None:
    (schedule,) = [s for s in schedules(Settings(rollup_interval_s=45)) if s.job_name == "rollups"]
    assert schedule.every == timedelta(seconds=45)


def test_scheduled_runs_roll_up_to_now_and_pick_up_late_readings(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    settings = settings.model_copy(update={"rollup_lateness_s": 300})
    minute = floor_to(datetime.now(UTC), MINUTE) - timedelta(minutes=2)
    with transaction(session_factory) as session:
        _insert(session, minute + timedelta(seconds=10), 1.0)
        _insert(session, minute + timedelta(seconds=40), 3.0)

    first = run_job(session_factory, settings, "rollups", NOW)  # the job rolls up to the run's start
    assert first.status == "succeeded", first.error
    done = datetime.fromisoformat(first.summary["done_until"])
    assert minute + 2 * MINUTE <= done <= floor_to(datetime.now(UTC), MINUTE)
    with session_factory() as session:
        assert _minute(session, minute) == ([2], [2.0])
        assert watermarks(session) == {
            "readings_1m": done,
            "readings_1h": floor_to(done, HOUR),
            "readings_sealed": floor_to(done - timedelta(seconds=300), HOUR),  # the lateness set above
        }

    with transaction(session_factory) as session:  # arrives after the run, minutes late
        _insert(session, minute + timedelta(seconds=50), 8.0)
    again = run_job(session_factory, settings, "rollups", NOW + MINUTE)
    assert again.status == "succeeded", again.error
    with session_factory() as session:
        assert _minute(session, minute) == ([3], [4.0])


def test_a_request_with_a_range_backfills_it(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    first = run_job(session_factory, settings, "rollups", NOW)  # the watermark is now about now
    done = datetime.fromisoformat(first.summary["done_until"])
    old = datetime(2026, 2, 1, 6, 30, tzinfo=UTC)
    with transaction(session_factory) as session:
        _insert(session, old, 5.0)
        request_job(
            session, "rollups", {"start": "2026-02-01T06:00:00Z", "end": "2026-02-01T07:00:00Z"}, "import"
        )
        request_job(session, "rollups", {"start": "2026-02-01T06:00:00"}, "careless")

    served = run_next_request(session_factory, settings)
    assert served is not None and served.result.status == "succeeded", served
    assert served.result.summary["rows_1m"] == 1 and served.result.summary["rows_1h"] == 1
    with session_factory() as session:
        assert _minute(session, old) == ([1], [5.0])
        assert watermarks(session)["readings_1m"] == done  # a backfill leaves the watermark alone
    refused = run_next_request(session_factory, settings)
    assert refused is not None and refused.result.status == "failed"
    assert "needs both start and end" in (refused.result.error or "")
