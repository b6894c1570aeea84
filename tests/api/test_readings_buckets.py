"""Bucketed readings over HTTP: rolled-up buckets plus the raw tail, equal to a direct computation
whatever the state of the rollups, `auto` by span, and the raw default unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api.machines.series import sensor_series
from db.engine import transaction
from tests.api.conftest import auth
from tests.api.readings_data import COUNT, T0, URL, Seeded, direct, get, roll_up, seed_readings


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> Seeded:
    return seed_readings(session_factory)


@pytest.mark.parametrize(("bucket", "width"), [("1m", timedelta(minutes=1)), ("1h", timedelta(hours=1))])
def test_buckets_are_the_same_before_during_and_after_the_rollup(
    client: TestClient,
    keys: dict[str, str],
    seeded: Seeded,
    session_factory: sessionmaker[Session],
    bucket: str,
    width: timedelta,
) -> None:
    start, end = T0 + timedelta(minutes=30, seconds=10), T0 + timedelta(hours=3)
    params = {"start": start.isoformat(), "end": end.isoformat(), "bucket": bucket}
    for sensor, position in (("temp", 1), ("vib", 2), ("late", 3)):
        wanted = direct(seeded, position, width, start, end)
        assert get(client, keys["viewer"], sensor=sensor, **params)["points"] == wanted  # all from raw
    roll_up(session_factory, T0 + timedelta(hours=1, minutes=30, seconds=5))  # 1h: up to 09:00
    for sensor, position in (("temp", 1), ("vib", 2), ("late", 3)):
        body = get(client, keys["viewer"], sensor=sensor, **params)
        assert body["bucket"] == bucket
        assert body["points"] == direct(seeded, position, width, start, end)
    roll_up(session_factory, T0 + timedelta(hours=4))  # everything rolled up
    for sensor, position in (("temp", 1), ("vib", 2), ("late", 3)):
        assert get(client, keys["viewer"], sensor=sensor, **params)["points"] == direct(
            seeded, position, width, start, end
        )


def test_rolled_up_buckets_come_from_the_rollup_and_the_tail_from_raw(
    client: TestClient, keys: dict[str, str], seeded: Seeded, session_factory: sessionmaker[Session]
) -> None:
    roll_up(session_factory, T0 + timedelta(hours=1))
    # Mark the rollup's buckets: the answer shows them before the watermark and raw buckets after it.
    with transaction(session_factory) as session:
        session.execute(text("UPDATE readings_1m SET avg[1] = -1"))
        session.execute(
            text(
                "INSERT INTO readings_1m "
                "SELECT machine_id, bucket + interval '2 hours', n, avg, min, max FROM readings_1m"
            )
        )
    points = get(
        client,
        keys["viewer"],
        sensor="temp",
        start=T0.isoformat(),
        end=(T0 + timedelta(hours=3)).isoformat(),
        bucket="1m",
    )["points"]
    assert len(points) == 180
    assert {p["value"] for p in points[:60]} == {-1.0}
    assert all(p["value"] == 3 * i + 1 for i, p in enumerate(points) if i >= 60)


def test_auto_picks_raw_minutes_or_hours_by_span(
    client: TestClient, keys: dict[str, str], seeded: Seeded
) -> None:
    def chosen(span: timedelta) -> tuple[str, int]:
        body = get(
            client,
            keys["viewer"],
            sensor="temp",
            start=(T0 + timedelta(hours=3) - span).isoformat(),
            end=(T0 + timedelta(hours=3)).isoformat(),
            bucket="auto",
        )
        return body["bucket"], len(body["points"])

    assert chosen(timedelta(hours=1)) == ("raw", 180)
    assert chosen(timedelta(hours=6)) == ("raw", COUNT)
    assert chosen(timedelta(hours=6, seconds=1)) == ("1m", 180)
    assert chosen(timedelta(days=3)) == ("1m", 180)
    assert chosen(timedelta(days=3, seconds=1)) == ("1h", 3)


def test_raw_stays_the_default_and_limit_applies_to_buckets(
    client: TestClient, keys: dict[str, str], seeded: Seeded
) -> None:
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=2)).isoformat()}
    body = get(client, keys["viewer"], sensor="temp", **window)
    assert body["bucket"] == "raw"
    assert body["points"][:2] == [
        {"ts": "2024-05-01T08:00:00Z", "value": 0.0},
        {"ts": "2024-05-01T08:00:20Z", "value": 1.0},
    ]
    limited = get(
        client,
        keys["viewer"],
        sensor="temp",
        bucket="1m",
        limit=2,
        start=T0.isoformat(),
        end=(T0 + timedelta(hours=1)).isoformat(),
    )
    assert [p["ts"] for p in limited["points"]] == ["2024-05-01T08:00:00Z", "2024-05-01T08:01:00Z"]
    assert limited["points"][0] == {
        "ts": "2024-05-01T08:00:00Z",
        "value": 1.0,
        "min": 0.0,
        "max": 2.0,
        "n": 3,
    }


def test_an_unknown_bucket_is_refused(client: TestClient, keys: dict[str, str], seeded: Seeded) -> None:
    response = client.get(URL, params={"sensor": "temp", "bucket": "5m"}, headers=auth(keys["viewer"]))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert "bucket" in str(response.json()["detail"])


def test_the_json_written_by_the_database_is_the_models_own(
    client: TestClient, keys: dict[str, str], seeded: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """Buckets' JSON comes from PostgreSQL; byte for byte what BucketedSeriesOut would write."""
    roll_up(session_factory, T0 + timedelta(hours=1, minutes=30))  # rolled-up buckets and a raw tail
    start, end = T0 + timedelta(minutes=30, seconds=10), T0 + timedelta(hours=3)
    for bucket in ("1m", "1h"):
        for sensor in ("temp", "vib", "late"):
            params = {"sensor": sensor, "start": start.isoformat(), "end": end.isoformat(), "bucket": bucket}
            response = client.get(URL, params=params, headers=auth(keys["viewer"]))
            with session_factory() as session:
                model = sensor_series(
                    session, "p/l/m", sensor=sensor, start=start, end=end, limit=10_000, bucket=bucket
                )
            assert response.content == model.model_dump_json().encode(), (bucket, sensor)
    empty = {"sensor": "temp", "start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z", "bucket": "1h"}
    assert get(client, keys["viewer"], **empty)["points"] == []
