"""Fixtures of the API tests: an app on the test database, a client, keys of every role, seed data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from db.engine import transaction
from db.repositories.assets import register_machine, register_sensors
from db.tables import Sensor
from plantwatch.settings import Settings
from services.api_keys import create_key

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def api_settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, var_dir=tmp_path / "var", api_max_page=50)


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


@pytest.fixture
def keys(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """A key (plaintext) per role, committed; the key's name is `<role>-key`."""
    with transaction(session_factory) as session:
        return {
            role: create_key(session, f"{role}-key", role)[1]
            for role in ("viewer", "engineer", "mes", "admin")
        }


def auth(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


@dataclass
class Fleet:
    ids: dict[str, int]  # path → id


def insert_readings(
    session: Session, machine_id: int, rows: list[tuple[datetime, list[float | None]]]
) -> None:
    for seq, (ts, values) in enumerate(rows):
        session.execute(
            text('INSERT INTO readings (machine_id, ts, seq, "values") VALUES (:m, :ts, :seq, :v)'),
            {"m": machine_id, "ts": ts, "seq": seq, "v": values},
        )


@pytest.fixture
def fleet(session_factory: sessionmaker[Session]) -> Fleet:
    """Two sites: s1/l1/m1..m3, s1/l2/m4, s2/l1/m5; m1 has sensors and an hour of readings."""
    paths = ["s1/l1/m1", "s1/l1/m2", "s1/l1/m3", "s1/l2/m4", "s2/l1/m5"]
    ids: dict[str, int] = {}
    with transaction(session_factory) as session:
        for path in paths:
            machine = register_machine(session, *path.split("/"))
            ids[path] = machine.id
        m1 = ids["s1/l1/m1"]
        positions = register_sensors(session, m1, ["temperature", "vibration"])
        session.execute(
            update(Sensor)
            .where(Sensor.machine_id == m1, Sensor.name == "temperature")
            .values(unit="degC", normal_min=20.0, normal_max=80.0)
        )
        assert positions == {"temperature": 1, "vibration": 2}
        # One reading a minute for an hour: temperature = minute, vibration only on even minutes.
        insert_readings(
            session,
            m1,
            [(T0 + timedelta(minutes=i), [float(i), 0.5 if i % 2 == 0 else None]) for i in range(60)],
        )
        session.execute(text("UPDATE machines SET external_code = 'MES-0001' WHERE id = :m"), {"m": m1})
    return Fleet(ids=ids)
