"""Fixtures of the dashboard tests: a real API (uvicorn in a thread) on a seeded database, and the
environment that points the dashboard at it.

The API server lives for the module (it only needs the migrated database); every test gets emptied
tables (`db_url`), its own seed and its own keys, and fresh dashboard settings and caches.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from db.engine import transaction
from db.repositories.assets import register_machine, register_sensors
from db.tables import Machine, MachineEvent, Sensor
from plantwatch.settings import Settings, get_settings
from services.api_keys import create_key
from tests.live_api import ApiServer

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def app_test() -> AppTest:
    """The dashboard as `streamlit run dashboard/app.py` starts it (the first run imports a lot)."""
    return AppTest.from_file(APP, default_timeout=30)


@dataclass
class Chart:
    """A Vega-Lite chart as the browser gets it: its spec and its named datasets."""

    spec: dict[str, Any]
    data: dict[str, pd.DataFrame]

    @property
    def title(self) -> str:
        return str(self.spec["title"]["text"])

    def layers(self, mark: str) -> list[dict[str, Any]]:
        return [layer for layer in self.spec["layer"] if layer["mark"]["type"] == mark]


def charts_of(at: AppTest) -> list[Chart]:
    """The page's charts, top to bottom."""
    return [
        Chart(
            json.loads(element.proto.spec),
            {
                named.name: convert_arrow_bytes_to_pandas_df(named.data.data)
                for named in element.proto.datasets
            },
        )
        for element in at.get("vega_lite_chart")
    ]


def api(server: ApiServer, key: str, path: str, **params: Any) -> Any:
    """GET /api/v1{path} from the running API: what it says now, to check what the pages did."""
    response = httpx.get(f"{server.url}/api/v1{path}", params=params, headers={"X-API-Key": key})
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def api_server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(Settings(database_url=migrated_url, var_dir=tmp_path_factory.mktemp("api-var")))
    server.start()
    yield server
    server.stop()


@dataclass
class Seed:
    ids: dict[str, int]  # path -> machine id
    now: datetime
    engineer_key: str
    viewer_key: str


def _insert_readings(
    session: Session, machine_id: int, rows: list[tuple[datetime, list[float | None]]]
) -> None:
    session.execute(
        text('INSERT INTO readings (machine_id, ts, seq, "values") VALUES (:m, :ts, :seq, :v)'),
        [{"m": machine_id, "ts": ts, "seq": seq, "v": values} for seq, (ts, values) in enumerate(rows)],
    )


@pytest.fixture
def seed(db_url: str, session_factory: sessionmaker[Session]) -> Seed:
    """plant-a/press/{m1,m2} and plant-a/paint/p1 reporting now; plant-b/assembly/a1 silent for 2 h.

    m1 reads every 30 s for 2 h: temperature (°C, normal 20..80) ends at 71.25, vibration at 0.125;
    a maintenance event 20 min ago and a failure 3 days ago (outside the 1 h window).
    """
    ids: dict[str, int] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(session_factory) as session:
        for path in ("plant-a/press/m1", "plant-a/press/m2", "plant-a/paint/p1", "plant-b/assembly/a1"):
            ids[path] = register_machine(session, *path.split("/")).id
        m1, m2, p1, a1 = ids.values()
        register_sensors(session, m1, ["temperature", "vibration"])
        session.execute(
            update(Sensor)
            .where(Sensor.machine_id == m1, Sensor.name == "temperature")
            .values(unit="°C", normal_min=20.0, normal_max=80.0)
        )
        register_sensors(session, m2, ["temperature", "vibration"])
        register_sensors(session, p1, ["humidity"])
        register_sensors(session, a1, ["torque"])
        steps = range(240, -1, -1)  # 2 h of readings every 30 s, the last one 5 s ago
        last = now - timedelta(seconds=5)
        _insert_readings(
            session,
            m1,
            [(last - timedelta(seconds=30 * i), [71.25 - i * 0.1, 0.125 + i * 0.001]) for i in steps],
        )
        _insert_readings(session, m2, [(last, [55.5, None])])
        _insert_readings(session, p1, [(last, [42.0])])
        _insert_readings(session, a1, [(now - timedelta(hours=2), [7.5])])
        for path, machine_id in ids.items():
            seen = now - timedelta(hours=2) if path.endswith("a1") else last
            session.execute(update(Machine).where(Machine.id == machine_id).values(last_seen_at=seen))
        session.add_all(
            [
                MachineEvent(machine_id=m1, kind="maintenance", ts=now - timedelta(minutes=20), note="oiled"),
                MachineEvent(machine_id=m1, kind="failure", ts=now - timedelta(days=3), note="seized"),
            ]
        )
        engineer_key = create_key(session, "dash-engineer", "engineer")[1]
        viewer_key = create_key(session, "dash-viewer", "viewer")[1]
    return Seed(ids=ids, now=now, engineer_key=engineer_key, viewer_key=viewer_key)


@pytest.fixture
def dashboard_env(api_server: ApiServer, seed: Seed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seed]:
    """The dashboard pointed at the test API with the engineer key, auto-refresh off, empty caches."""
    monkeypatch.setenv("PLANTWATCH_API_URL", api_server.url)
    monkeypatch.setenv("PLANTWATCH_API_KEY", seed.engineer_key)
    monkeypatch.setenv("PLANTWATCH_DASHBOARD_REFRESH_S", "0")
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    yield seed
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
