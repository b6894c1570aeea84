"""Health and RUL over HTTP: latest predictions per machine and fleet, scoring windows sent in a request."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from jobs.score_machines import score_machines
from jobs.train_rul import train_scope
from plantwatch.settings import Settings
from tests.api.conftest import auth
from tests.jobs.plant import RUN, T0, add_machine, tiny_settings

EVENTS = ["failure", "maintenance", "failure"]
NOW = T0 + timedelta(minutes=3 * RUN + 7)


def _trained_plant(
    session_factory: sessionmaker[Session], settings: Settings, score: bool = True
) -> dict[str, Any]:
    tiny = tiny_settings(settings)
    with transaction(session_factory) as session:
        for i in range(6):
            add_machine(session, f"pump{i}", "pump", EVENTS)
        trained = train_scope(session, tiny, "pump")
        if score:
            score_machines(session, tiny.model_copy(update={"score_stale_after_s": 3600}), NOW)
    return trained


def _last_window(session_factory: sessionmaker[Session], machine: str, sensors: list[str]) -> list[list[Any]]:
    """The machine's last 4 readings in `sensors` order, from the database."""
    with transaction(session_factory) as session:
        rows = session.execute(
            text(
                'SELECT s.name, r.ts, r."values"[s.position] FROM readings r '
                "JOIN machines m ON m.id = r.machine_id JOIN sensors s ON s.machine_id = m.id "
                "WHERE m.path = :p ORDER BY r.ts DESC, s.name"
            ),
            {"p": machine},
        ).all()
    by_ts: dict[Any, dict[str, float]] = {}
    for name, ts, value in rows:
        by_ts.setdefault(ts, {})[name] = value
    last = sorted(by_ts)[-4:]
    return [[by_ts[ts].get(name) for name in sensors] for ts in last]


def test_health_and_predict_agree_and_explain(
    client: TestClient,
    keys: dict[str, str],
    session_factory: sessionmaker[Session],
    api_settings: Settings,
) -> None:
    trained = _trained_plant(session_factory, api_settings)
    viewer = auth(keys["viewer"])

    health = client.get("/api/v1/machines/site/line/pump0/health", headers=viewer)
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "ok" and body["machine"] == "site/line/pump0"
    assert body["rul_low"] <= body["rul"] <= body["rul_high"] and body["interval_coverage"] == 0.9
    assert 0 <= body["failure_probability"] <= 1 and body["horizon"] == 30.0
    assert {d["sensor"] for d in body["top_sensors"]} == {"temp", "vib"}
    assert body["rul_model"]["id"] == trained["id"] and body["health_model"]["version"] == 1

    fleet = client.get("/api/v1/health", params={"line": "line", "limit": 4}, headers=viewer).json()
    assert [m["machine"] for m in fleet["items"]] == [f"site/line/pump{i}" for i in range(4)]
    rest = client.get("/api/v1/health", params={"cursor": fleet["next_cursor"]}, headers=viewer).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert client.get("/api/v1/health", params={"line": "elsewhere"}, headers=viewer).json()["items"] == []

    # The same window sent over HTTP gets the same RUL as the scoring job gave the machine.
    model = client.post(
        "/api/v1/predict/rul", json={"machine_type": "pump", "windows": [[[0.0] * 3] * 4]}, headers=viewer
    ).json()["model"]
    window = _last_window(session_factory, "site/line/pump0", model["sensors"])
    sent = client.post(
        "/api/v1/predict/rul", json={"machine_type": "pump", "windows": [window]}, headers=viewer
    )
    assert sent.status_code == 200, sent.text
    prediction = sent.json()["predictions"][0]
    assert abs(prediction["rul"] - body["rul"]) < 1e-3
    assert [d["sensor"] for d in prediction["top_sensors"]] == [d["sensor"] for d in body["top_sensors"]]
    # Columns may come in any order when named; by model id too.
    named = client.post(
        "/api/v1/predict/rul",
        json={
            "model_id": trained["id"],
            "sensors": list(reversed(model["sensors"])),
            "windows": [[list(reversed(step)) for step in window]],
            "explain": False,
        },
        headers=viewer,
    ).json()["predictions"][0]
    assert abs(named["rul"] - prediction["rul"]) < 1e-6 and named["top_sensors"] is None


def test_unscored_and_unknown_machines(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        add_machine(session, "new", None, [])
    body = client.get("/api/v1/machines/site/line/new/health", headers=auth(keys["mes"])).json()
    assert body["status"] == "pending" and "not scored yet" in body["reasons"][0] and body["rul"] is None
    missing = client.get("/api/v1/machines/nope/health", headers=auth(keys["mes"]))
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get("/api/v1/health").status_code == 401


def _error(client: TestClient, key: str, body: dict[str, Any], status: int) -> str:
    response = client.post("/api/v1/predict/rul", json=body, headers=auth(key))
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error", "detail"}
    return str(payload["detail"])


def test_bad_prediction_requests_get_clear_errors(
    client: TestClient,
    keys: dict[str, str],
    session_factory: sessionmaker[Session],
    api_settings: Settings,
) -> None:
    key = keys["viewer"]
    ok_step = [1.0, 60.0, 0.5]
    assert "no RUL model for machine type 'press'" in _error(
        client, key, {"machine_type": "press", "windows": [[ok_step] * 4]}, 404
    )
    trained = _trained_plant(session_factory, api_settings, score=False)
    # An altered artifact: 503 with the reason, never a 500 (and it is not cached: fixed, it serves).
    with transaction(session_factory) as session:
        path = session.execute(
            text("SELECT artifact_path FROM model_versions WHERE kind = 'rul'")
        ).scalar_one()
    onnx = Path(path) / "model.onnx"
    original = onnx.read_bytes()
    onnx.write_bytes(original + b"\0")
    by_id = {"model_id": trained["id"], "windows": [[ok_step] * 4]}
    assert "cannot be loaded" in _error(client, key, by_id, 503)
    onnx.write_bytes(original)
    assert client.post("/api/v1/predict/rul", json=by_id, headers=auth(key)).status_code == 200
    pump = {"machine_type": "pump"}
    assert "needs 4 time steps, got 3" in _error(client, key, {**pump, "windows": [[ok_step] * 3]}, 422)
    assert "needs 3 values" in _error(client, key, {**pump, "windows": [[[1.0, 2.0]] * 4]}, 422)
    assert "same number of time steps" in _error(
        client, key, {**pump, "windows": [[ok_step] * 4, [ok_step] * 5]}, 422
    )
    assert "does not know pressure" in _error(
        client, key, {**pump, "sensors": ["flat", "temp", "pressure"], "windows": [[ok_step] * 4]}, 422
    )
    no_vib = [[1.0, 60.0, None]] * 4
    assert "has no value in the whole window" in _error(client, key, {**pump, "windows": [no_vib]}, 422)
    assert "not both" in _error(client, key, {**pump, "model_id": 1, "windows": [[ok_step] * 4]}, 422)
    assert "windows" in _error(client, key, {**pump, "windows": []}, 422)
    assert "no RUL model version 999" in _error(
        client, key, {"model_id": 999, "windows": [[ok_step] * 4]}, 404
    )
