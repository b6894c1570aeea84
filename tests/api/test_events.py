"""Machine events over HTTP: record (roles, validation, duplicates) and list newest first in pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.tables import MachineEvent
from tests.api.conftest import Fleet, auth

URL = "/api/v1/machines/s1/l1/m1/events"


def test_engineer_records_an_event(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    body = {
        "kind": "failure",
        "ts": "2024-05-01T10:00:00+02:00",
        "note": "bearing seized",
        "work_order_id": "WO-7",
    }
    response = client.post(URL, json=body, headers=auth(keys["engineer"]))
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["id"] > 0
    assert event["machine"] == "s1/l1/m1"
    assert (event["kind"], event["ts"], event["note"]) == (
        "failure",
        "2024-05-01T08:00:00Z",
        "bearing seized",
    )
    assert event["work_order_id"] == "WO-7"
    assert event["created_by"] == "engineer-key"
    created = datetime.fromisoformat(event["created_at"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)


def test_event_is_committed(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    client.post(URL, json={"kind": "maintenance"}, headers=auth(keys["mes"]))
    with session_factory() as session:
        stored = session.scalars(select(MachineEvent)).all()
    assert len(stored) == 1
    assert stored[0].machine_id == fleet.ids["s1/l1/m1"]
    assert stored[0].created_by == "mes-key"
    # ts defaults to now.
    assert abs(stored[0].ts - datetime.now(UTC)) < timedelta(minutes=1)


def test_mes_and_admin_may_post_by_id_and_code(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    m1 = fleet.ids["s1/l1/m1"]
    first = client.post(
        f"/api/v1/machines/{m1}/events",
        json={"kind": "maintenance", "ts": "2024-05-01T00:00:00Z"},
        headers=auth(keys["mes"]),
    )
    second = client.post(
        "/api/v1/machines/MES-0001/events",
        json={"kind": "maintenance", "ts": "2024-05-02T00:00:00Z"},
        headers={"Authorization": f"Bearer {keys['admin']}"},
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["machine"] == second.json()["machine"] == "s1/l1/m1"


def test_viewer_may_not_post(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    response = client.post(URL, json={"kind": "failure"}, headers=auth(keys["viewer"]))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "viewer" in response.json()["detail"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MachineEvent)) == 0


def test_the_same_event_twice_is_a_conflict(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    body = {"kind": "failure", "ts": "2024-05-01T08:00:00Z"}
    assert client.post(URL, json=body, headers=auth(keys["engineer"])).status_code == 201
    again = client.post(URL, json=body, headers=auth(keys["engineer"]))
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    # Another kind at the same time is another event.
    other = client.post(URL, json={**body, "kind": "maintenance"}, headers=auth(keys["engineer"]))
    assert other.status_code == 201


def test_invalid_events_are_422(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    cases = [
        {"kind": "explosion"},
        {},
        {"kind": "failure", "ts": future},
        {"kind": "failure", "ts": "not a time"},
        {"kind": "failure", "ts": "2024-05-01T08:00:00"},
        {"kind": "failure", "note": "x" * 2001},
        {"kind": "failure", "note": "nul\x00byte"},
        {"kind": "failure", "work_order_id": "w" * 129},
        {"kind": "failure", "surprise": 1},
        {"kind": ["failure"]},
    ]
    for body in cases:
        response = client.post(URL, json=body, headers=auth(keys["engineer"]))
        assert response.status_code == 422, body
        assert response.json()["error"] == "invalid_request", body
        assert isinstance(response.json()["detail"], list | str)
    # Within the 5 minute tolerance a slightly fast clock is fine.
    near = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert (
        client.post(URL, json={"kind": "failure", "ts": near}, headers=auth(keys["engineer"])).status_code
        == 201
    )


def test_validation_detail_names_the_field(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    response = client.post(URL, json={"kind": "explosion"}, headers=auth(keys["engineer"]))
    assert any(line.startswith("body.kind:") for line in response.json()["detail"])


def test_post_to_unknown_machine_is_404(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    response = client.post(
        "/api/v1/machines/s1/l1/nope/events", json={"kind": "failure"}, headers=auth(keys["engineer"])
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_list_events_newest_first_in_pages(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    base = datetime(2024, 5, 1, tzinfo=UTC)
    # Posted out of order; two share a timestamp (different kinds).
    for hours, kind in [
        (5, "failure"),
        (1, "maintenance"),
        (3, "failure"),
        (3, "maintenance"),
        (2, "failure"),
    ]:
        body = {"kind": kind, "ts": (base + timedelta(hours=hours)).isoformat()}
        assert client.post(URL, json=body, headers=auth(keys["engineer"])).status_code == 201
    client.post("/api/v1/machines/s1/l1/m2/events", json={"kind": "failure"}, headers=auth(keys["engineer"]))

    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get(URL, params=params, headers=auth(keys["viewer"]))
        assert response.status_code == 200
        seen += [(e["ts"], e["kind"]) for e in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [ts for ts, _ in seen] == [
        "2024-05-01T05:00:00Z",
        "2024-05-01T03:00:00Z",
        "2024-05-01T03:00:00Z",
        "2024-05-01T02:00:00Z",
        "2024-05-01T01:00:00Z",
    ]
    assert len(set(seen)) == 5
    only_failures = client.get(URL, params={"kind": "failure"}, headers=auth(keys["viewer"])).json()
    assert [e["kind"] for e in only_failures["items"]] == ["failure"] * 3


def test_list_events_of_unknown_machine_is_404(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    response = client.get("/api/v1/machines/9999/events", headers=auth(keys["viewer"]))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_forged_cursor_is_422(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    for cursor in ("garbage!", "WyJ4Il0", "bnVsbA", "WzEsMl0"):
        response = client.get(URL, params={"cursor": cursor}, headers=auth(keys["viewer"]))
        assert response.status_code == 422, cursor
        assert "cursor" in str(response.json()["detail"])
