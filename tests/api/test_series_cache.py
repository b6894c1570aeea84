"""Sealed hours (and days) of bucketed readings answered from the API's cache: the same bytes as the
database writes, served while the rollups keep their version, read again once a backfill or
retention gives them a new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api.machines.series import sensor_series
from api.series_cache import ENTRY_OVERHEAD_BYTES, SeriesCache
from db.engine import transaction
from db.repositories.retention import delete_rollups_1m_before
from db.repositories.rollups import bucketed_series_json, sealed_state
from db.rollups import bump_version, refresh_range
from tests.api.conftest import auth, insert_readings
from tests.api.readings_data import T0, URL, Seeded, direct, get, roll_up, seed_readings

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
START, END = T0 + timedelta(minutes=30, seconds=10), T0 + 3 * HOUR  # 08:30:10 … 11:00
DAY_START, DAY_END = datetime(2024, 4, 30, 12, tzinfo=UTC), datetime(2024, 5, 2, 12, tzinfo=UTC)


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> Seeded:
    seeded = seed_readings(session_factory)
    roll_up(session_factory, T0 + timedelta(days=2))  # everything rolled up and sealed
    return seeded


def minutes(client: TestClient, key: str) -> list[dict[str, Any]]:
    params = {"sensor": "temp", "start": START.isoformat(), "end": END.isoformat(), "bucket": "1m"}
    points: list[dict[str, Any]] = get(client, key, **params)["points"]
    return points


def hours(client: TestClient, key: str) -> list[dict[str, Any]]:
    params = {"sensor": "temp", "start": DAY_START.isoformat(), "end": DAY_END.isoformat(), "bucket": "1h"}
    points: list[dict[str, Any]] = get(client, key, **params)["points"]
    return points


def test_cached_answers_are_the_models_bytes(
    client: TestClient, keys: dict[str, str], seeded: Seeded, session_factory: sessionmaker[Session]
) -> None:
    for bucket, start, end in (("1m", START, END), ("1h", DAY_START, DAY_END)):
        for sensor in ("temp", "vib", "late"):
            params = {"sensor": sensor, "start": start.isoformat(), "end": end.isoformat(), "bucket": bucket}
            answers = [client.get(URL, params=params, headers=auth(keys["viewer"])).content for _ in range(2)]
            with session_factory() as session:
                model = sensor_series(
                    session, "p/l/m", sensor=sensor, start=start, end=end, limit=10_000, bucket=bucket
                )
            assert answers == [model.model_dump_json().encode()] * 2, (bucket, sensor)


def test_sealed_pieces_come_from_the_cache_until_the_rollups_change(
    client: TestClient, keys: dict[str, str], seeded: Seeded, session_factory: sessionmaker[Session]
) -> None:
    viewer = keys["viewer"]
    wanted_minutes = direct(seeded, 1, MINUTE, START, END)
    wanted_hours = direct(seeded, 1, HOUR, DAY_START, DAY_END)
    assert minutes(client, viewer) == wanted_minutes and hours(client, viewer) == wanted_hours
    with transaction(session_factory) as session:  # behind the cache's back: no new version
        session.execute(text("UPDATE readings_1m SET avg[1] = -1"))
        session.execute(text("UPDATE readings_1h SET avg[1] = -1"))
    points = minutes(client, viewer)
    head = [p for p in points if p["ts"] < "2024-05-01T09:00"]  # not a whole hour: read each time
    assert len(head) == 30 and {p["value"] for p in head} == {-1.0}
    assert points[30:] == wanted_minutes[30:]  # 09:00 and 10:00: whole sealed hours, kept
    assert hours(client, viewer) == wanted_hours  # the whole day of 1 May, kept

    late_at = T0 + timedelta(hours=1, minutes=30, seconds=5)  # 09:30:05, a backfill of one reading
    with transaction(session_factory) as session:
        insert_readings(session, seeded.machine_id, [(late_at, [10_000.0])])
        refresh_range(session, late_at, late_at + timedelta(seconds=1))
    seeded.rows.append((late_at, [10_000.0]))
    points = minutes(client, viewer)
    late_minute = "2024-05-01T09:30:00Z"
    recomputed = [p for p in points if p["ts"] == late_minute]
    assert recomputed == [p for p in direct(seeded, 1, MINUTE, START, END) if p["ts"] == late_minute]
    assert {p["value"] for p in points if p not in recomputed} == {-1.0}  # read again, as the table holds

    with transaction(session_factory) as session:  # retention: minutes before 10:00 go
        delete_rollups_1m_before(session, T0 + 2 * HOUR)
        bump_version(session)  # as jobs.retention does once it deleted some
    points = minutes(client, viewer)
    assert [p["ts"] for p in points] == [f"2024-05-01T10:{m:02d}:00Z" for m in range(60)]


def test_the_cache_keeps_to_its_size(seeded: Seeded, session_factory: sessionmaker[Session]) -> None:
    first, stop = T0, T0 + 3 * HOUR
    small, large = SeriesCache(3_000), SeriesCache(1 << 20)  # a 1-minute hour of one sensor: ~4 kB
    with session_factory() as session:
        sealed = sealed_state(session)
        for position in (1, 2, 3):
            wanted = bucketed_series_json(session, seeded.machine_id, position, first, stop, "1m")
            for cache in (small, large, small, large):
                kept = cache.points_json(session, seeded.machine_id, position, first, stop, "1m", sealed)
                assert kept == wanted
    assert small.size <= 3_000 and large.size > 30_000
    for cache in (small, large):
        assert cache.size == sum(len(piece) + ENTRY_OVERHEAD_BYTES for piece in cache._pieces.values())


def test_sealed_pieces_and_the_live_tail_make_the_whole_answer(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    seeded = seed_readings(session_factory)
    roll_up(session_factory, T0 + timedelta(hours=2, minutes=30))  # sealed up to 10:00; 10:30 on is raw
    params = {"start": START.isoformat(), "end": END.isoformat(), "bucket": "1m"}
    for _ in range(2):  # the second time 09:00 comes from the cache, the rest from the database
        for sensor, position in (("temp", 1), ("vib", 2), ("late", 3)):
            points = get(client, keys["viewer"], sensor=sensor, **params)["points"]
            assert points == direct(seeded, position, MINUTE, START, END), sensor
    app = client.app
    assert isinstance(app, FastAPI)
    assert app.state.series_cache.size > 0
