"""The machine list by when machines were registered, and the fleet's health by when each machine's
latest prediction was made (what changed since the last poll)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import Machine, Prediction
from tests.api.conftest import Fleet, auth

T = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def test_machines_registered_within_a_range(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        session.get_one(Machine, fleet.ids["s2/l1/m5"]).created_at = T
    viewer = auth(keys["viewer"])

    def paths(**params: str) -> list[str]:
        answer = client.get("/api/v1/machines", params=params, headers=viewer)
        assert answer.status_code == 200, answer.text
        return [item["path"] for item in answer.json()["items"]]

    assert paths(until=(T + timedelta(hours=1)).isoformat()) == ["s2/l1/m5"]
    assert "s2/l1/m5" not in paths(since=(T + timedelta(hours=1)).isoformat()) and len(paths()) == 5
    bad = client.get(
        "/api/v1/machines", params={"since": T.isoformat(), "until": T.isoformat()}, headers=viewer
    )
    assert bad.status_code == 422 and set(bad.json()) == {"error", "detail"}


def test_health_of_machines_whose_latest_prediction_was_made_since_the_last_poll(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    m1, m2 = fleet.ids["s1/l1/m1"], fleet.ids["s1/l1/m2"]
    with transaction(session_factory) as session:
        session.add_all([Prediction(machine_id=m1, rul=80.0, made_at=T),
                         Prediction(machine_id=m2, rul=70.0, made_at=T),
                         Prediction(machine_id=m2, rul=60.0, made_at=T + timedelta(minutes=10))])  # fmt: skip
    viewer = auth(keys["viewer"])

    def polled(since: datetime) -> list[tuple[str, float]]:
        answer = client.get("/api/v1/health", params={"since": since.isoformat()}, headers=viewer)
        assert answer.status_code == 200, answer.text
        return [(item["machine"], item["rul"]) for item in answer.json()["items"]]

    assert polled(T) == [("s1/l1/m1", 80.0), ("s1/l1/m2", 60.0)]
    assert polled(T + timedelta(minutes=5)) == [("s1/l1/m2", 60.0)]  # only m2 changed since
    assert polled(T + timedelta(hours=1)) == []
