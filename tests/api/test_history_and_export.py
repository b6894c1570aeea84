"""A machine's prediction history, readings as CSV, and the since/until filter of lists."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import Prediction
from tests.api.conftest import T0, Fleet, auth


def test_prediction_history_pages_newest_first_within_a_range(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    m1 = fleet.ids["s1/l1/m1"]
    with transaction(session_factory) as session:
        session.add_all(
            Prediction(machine_id=m1, made_at=T0 + timedelta(hours=h), rul=100.0 - h, status="ok")
            for h in range(5)
        )
        session.add(Prediction(machine_id=fleet.ids["s1/l1/m2"], made_at=T0, rul=7.0, status="ok"))
    url, viewer = "/api/v1/machines/s1/l1/m1/predictions", auth(keys["viewer"])
    first = client.get(url, params={"limit": 2}, headers=viewer).json()
    assert [p["rul"] for p in first["items"]] == [96.0, 97.0]
    rest = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=viewer).json()
    assert [p["rul"] for p in rest["items"]] == [98.0, 99.0] and rest["next_cursor"] is not None
    period = {"since": (T0 + timedelta(hours=1)).isoformat(), "until": (T0 + timedelta(hours=3)).isoformat()}
    window = client.get(url, params=period, headers=viewer).json()
    assert [p["rul"] for p in window["items"]] == [98.0, 99.0] and window["next_cursor"] is None
    backwards = client.get(url, params={"since": T0.isoformat(), "until": T0.isoformat()}, headers=viewer)
    assert backwards.status_code == 422 and "since" in backwards.json()["detail"]


def test_readings_as_csv(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    params = {
        "sensor": "temperature",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(minutes=3)).isoformat(),
    }
    raw = client.get(
        "/api/v1/machines/s1/l1/m1/readings", params={**params, "format": "csv"}, headers=auth(keys["viewer"])
    )
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(raw.text)))
    assert rows[0] == ["ts", "value"] and [float(r[1]) for r in rows[1:]] == [0.0, 1.0, 2.0]
    bucketed = client.get(
        "/api/v1/machines/s1/l1/m1/readings",
        params={**params, "end": (T0 + timedelta(hours=1)).isoformat(), "bucket": "1h", "format": "csv"},
        headers=auth(keys["viewer"]),
    )
    rows = list(csv.reader(io.StringIO(bucketed.text)))
    assert rows[0] == ["ts", "value", "min", "max", "n"] and rows[1][1:] == ["29.5", "0.0", "59.0", "60"]


def test_lists_filter_by_time(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    for hours in (0, 5):
        sent = client.post(
            "/api/v1/machines/s1/l1/m1/events",
            json={"kind": "maintenance", "ts": (T0 + timedelta(hours=hours)).isoformat()},
            headers=auth(keys["engineer"]),
        )
        assert sent.status_code == 201, sent.text
    since = (T0 + timedelta(hours=1)).isoformat()
    events = client.get(
        "/api/v1/machines/s1/l1/m1/events", params={"since": since}, headers=auth(keys["viewer"])
    )
    assert [e["ts"][:13] for e in events.json()["items"]] == [(T0 + timedelta(hours=5)).isoformat()[:13]]
    for url in (
        "/api/v1/jobs/runs",
        "/api/v1/dead-letters",
        "/api/v1/audit",
        "/api/v1/downtime",
        "/api/v1/models",
        "/api/v1/keys",
    ):
        answer = client.get(url, params={"since": "2999-01-01T00:00:00Z"}, headers=auth(keys["admin"]))
        body = answer.json()
        assert answer.status_code == 200 and body["items"] == [] and body["next_cursor"] is None, url
