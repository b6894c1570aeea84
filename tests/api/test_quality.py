"""GET /api/v1/quality: a line's p-chart over HTTP, and its errors."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from tests.api.conftest import auth
from tests.services.test_quality import T0, _inspections


def test_line_quality_over_http(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        line = register_machine(session, "plant", "press-line", "m1").line_id
        for hour in range(3):
            _inspections(session, line, hour, total=10, defects=hour, station="cam")
        _inspections(session, line, 0, total=4, defects=4, station="side")
    params = {
        "site": "plant",
        "line": "press-line",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=3)).isoformat(),
    }
    body = client.get("/api/v1/quality", params=params, headers=auth(keys["viewer"])).json()
    assert body["bucket_s"] == 3600 and body["station"] is None
    assert [(s["inspected"], s["defective"]) for s in body["samples"]] == [(14, 4), (10, 1), (10, 2)]
    cam = client.get(
        "/api/v1/quality", params={**params, "station": "cam"}, headers=auth(keys["viewer"])
    ).json()
    assert [s["defective"] for s in cam["samples"]] == [0, 1, 2]

    missing = client.get("/api/v1/quality", params={**params, "line": "nope"}, headers=auth(keys["viewer"]))
    assert missing.status_code == 404 and "no line 'nope'" in missing.json()["detail"]
    backwards = client.get(
        "/api/v1/quality", params={**params, "end": T0.isoformat()}, headers=auth(keys["viewer"])
    )
    assert backwards.status_code == 422 and backwards.json()["error"]
    assert client.get("/api/v1/quality", params=params).status_code == 401
