"""The dead-letters routes: roles, listing (payload text or base64, filters, pages), summary, replay."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.dead_letters import NewDeadLetter, add_dead_letters
from db.tables import DeadLetter
from tests.api.conftest import auth

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
TOPIC = "plantwatch/v1/s/l/m/telemetry"


@pytest.fixture
def letters(session_factory: sessionmaker[Session]) -> list[int]:
    """Five letters, oldest first: not_json (text), not_utf8 (bytes), two unknown_machine (the first
    one replayed), too_large (truncated)."""
    rows = [
        NewDeadLetter(TOPIC, b'{"ts": ', "not_json", "payload is not JSON", T0),
        NewDeadLetter(TOPIC, b"\xc3\x28\x00", "not_utf8", "payload is not UTF-8", T0 + timedelta(seconds=1)),
        NewDeadLetter(
            TOPIC, b'{"ts": 1, "values": {"a": 1}}', "unknown_machine", "x", T0 + timedelta(seconds=2)
        ),
        NewDeadLetter(
            TOPIC, b'{"ts": 2, "values": {"a": 1}}', "unknown_machine", "y", T0 + timedelta(seconds=3)
        ),
        NewDeadLetter(TOPIC, b"z" * 300, "too_large", "payload of 300 bytes", T0 + timedelta(seconds=4)),
    ]
    with transaction(session_factory) as session:
        add_dead_letters(session, rows[:4])
        add_dead_letters(session, rows[4:], payload_limit=100)
        session.execute(
            update(DeadLetter).where(DeadLetter.id == 3).values(replayed_at=T0 + timedelta(seconds=5))
        )
    return [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/dead-letters"), ("GET", "/api/v1/dead-letters/summary")],
)
def test_reading_needs_a_key_of_any_role(
    client: TestClient, keys: dict[str, str], method: str, path: str
) -> None:
    assert client.request(method, path).json()["error"] == "unauthorized"
    assert client.request(method, path, headers={"X-API-Key": "pw_nope"}).status_code == 401
    for role in ("viewer", "mes", "engineer", "admin"):
        assert client.request(method, path, headers=auth(keys[role])).status_code == 200


def test_replay_needs_an_admin(client: TestClient, keys: dict[str, str], letters: list[int]) -> None:
    body = {"ids": [1]}
    assert client.post("/api/v1/dead-letters/replay", json=body).status_code == 401
    for role in ("viewer", "mes", "engineer"):
        answer = client.post("/api/v1/dead-letters/replay", json=body, headers=auth(keys[role]))
        assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert (
        client.post("/api/v1/dead-letters/replay", json=body, headers=auth(keys["admin"])).status_code == 202
    )


def test_list_newest_first_with_payloads(
    client: TestClient, keys: dict[str, str], letters: list[int]
) -> None:
    answer = client.get("/api/v1/dead-letters", headers=auth(keys["engineer"]))
    assert answer.status_code == 200
    body = answer.json()
    assert [item["id"] for item in body["items"]] == [5, 4, 3, 2, 1] and body["next_cursor"] is None
    by_id = {item["id"]: item for item in body["items"]}
    assert by_id[1]["payload"] == '{"ts": ' and by_id[1]["encoding"] == "utf-8"
    assert by_id[2]["encoding"] == "base64" and base64.b64decode(by_id[2]["payload"]) == b"\xc3\x28\x00"
    assert by_id[5]["payload_truncated"] and by_id[5]["payload_bytes"] == 100 and not by_id[5]["replayable"]
    assert by_id[3]["replayed_at"] is not None and not by_id[3]["replayable"]
    assert by_id[4]["replayable"] and by_id[4]["replayed_at"] is None and by_id[4]["replay_error"] is None
    assert by_id[1]["received_at"] == "2026-02-01T12:00:00Z"
    assert (by_id[1]["reason"], by_id[1]["detail"], by_id[1]["topic"]) == (
        "not_json",
        "payload is not JSON",
        TOPIC,
    )


def test_filters_and_pages(client: TestClient, keys: dict[str, str], letters: list[int]) -> None:
    headers = auth(keys["engineer"])

    def ids(**params: object) -> list[int]:
        answer = client.get("/api/v1/dead-letters", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert ids(reason="unknown_machine") == [4, 3]
    assert ids(replayed="false", reason="unknown_machine") == [4]
    assert ids(replayed="true") == [3]
    assert ids(reason="no_such_reason") == []
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/dead-letters", params=params, headers=headers).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    for bad in ({"cursor": "!!"}, {"limit": 0}, {"limit": 51}, {"reason": "a b"}, {"replayed": "maybe"}):
        answer = client.get("/api/v1/dead-letters", params=bad, headers=headers)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request", bad


def test_summary_counts_by_reason(client: TestClient, keys: dict[str, str], letters: list[int]) -> None:
    client.post("/api/v1/dead-letters/replay", json={"ids": [4]}, headers=auth(keys["admin"]))
    body = client.get("/api/v1/dead-letters/summary", headers=auth(keys["engineer"])).json()
    assert body == {
        "total": 5,
        "replayed": 1,
        "replay_requested": 1,
        "by_reason": {"not_json": 1, "not_utf8": 1, "unknown_machine": 2, "too_large": 1},
        "open_by_reason": {"not_json": 1, "not_utf8": 1, "unknown_machine": 1, "too_large": 1},
    }


def test_replay_marks_only_replayable_letters(
    client: TestClient, keys: dict[str, str], letters: list[int], session_factory: sessionmaker[Session]
) -> None:
    headers = auth(keys["admin"])
    answer = client.post("/api/v1/dead-letters/replay", json={"ids": [1, 3, 5, 99]}, headers=headers)
    assert answer.status_code == 202
    body = answer.json()
    assert (body["marked"], body["selected"]) == (1, 3)
    assert "2 skipped" in body["detail"] and "1 of the ids name no dead letter" in body["detail"]
    answer = client.post("/api/v1/dead-letters/replay", json={"reason": "unknown_machine"}, headers=headers)
    assert (answer.status_code, answer.json()["marked"], answer.json()["selected"]) == (202, 1, 2)
    with session_factory() as session:
        requested = set(
            session.scalars(select(DeadLetter.id).where(DeadLetter.replay_requested_at.is_not(None)))
        )
    assert requested == {1, 4}
    listed = client.get("/api/v1/dead-letters", headers=auth(keys["engineer"])).json()["items"]
    assert {item["id"] for item in listed if item["replay_requested_at"]} == {1, 4}


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": [1], "reason": "not_json"}, {"ids": []}, {"ids": [0]}, {"reason": ""}, {"all": True}, [1]],
)
def test_replay_requests_are_validated(
    client: TestClient, keys: dict[str, str], body: object, letters: list[int]
) -> None:
    answer = client.post("/api/v1/dead-letters/replay", json=body, headers=auth(keys["admin"]))
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request" and answer.json()["detail"]
