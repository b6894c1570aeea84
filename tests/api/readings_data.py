"""Readings of one machine for the bucketed-readings tests, and the buckets they should give."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine, register_sensors
from db.rollups import floor_to, refresh_rollups
from tests.api.conftest import auth, insert_readings

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
STEP = timedelta(seconds=20)
COUNT = 540  # 3 h
URL = "/api/v1/machines/p/l/m/readings"


@dataclass
class Seeded:
    machine_id: int
    rows: list[tuple[datetime, list[float | None]]]


def seed_readings(session_factory: sessionmaker[Session]) -> Seeded:
    """p/l/m every 20 s for 3 h: temp = i; vib = -i every third reading; `late` from 10:00 on."""
    rows: list[tuple[datetime, list[float | None]]] = []
    for i in range(COUNT):
        ts = T0 + i * STEP
        values: list[float | None] = [float(i), -float(i) if i % 3 == 0 else None]
        if ts >= T0 + timedelta(hours=2):
            values.append(1000.0 + i)
        rows.append((ts, values))
    with transaction(session_factory) as session:
        machine_id = register_machine(session, "p", "l", "m").id
        for name in ("temp", "vib", "late"):  # one at a time: positions 1, 2, 3
            register_sensors(session, machine_id, [name])
        insert_readings(session, machine_id, rows)
    return Seeded(machine_id, rows)


def direct(
    seeded: Seeded, position: int, width: timedelta, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The buckets computed in Python from the raw rows: whole buckets starting in [floor(start), end)."""
    cells: dict[datetime, list[float]] = defaultdict(list)
    for ts, values in seeded.rows:
        bucket = floor_to(ts, width)
        if (
            floor_to(start, width) <= bucket < end
            and position <= len(values)
            and values[position - 1] is not None
        ):
            cells[bucket].append(values[position - 1])  # type: ignore[arg-type]
    return [
        {
            "ts": b.isoformat().replace("+00:00", "Z"),
            "value": sum(v) / len(v),
            "min": min(v),
            "max": max(v),
            "n": len(v),
        }
        for b, v in sorted(cells.items())
    ]


def get(client: TestClient, key: str, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def roll_up(session_factory: sessionmaker[Session], until: datetime) -> None:
    with transaction(session_factory) as session:
        refresh_rollups(session, until=until, lateness=timedelta(0))
