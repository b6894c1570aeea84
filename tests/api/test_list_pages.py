"""Cursor pages of the lists that used to be plain arrays: API keys (with a creation-time filter), the
job schedule, the alert rules and the model registry (with its creation-time filter)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api.pagination import encode_cursor
from db.engine import transaction
from services import model_registry
from services.alert_rules import RULES
from services.api_keys import create_key
from services.job_requests import JOB_NAMES
from tests.api.conftest import T0, auth

BAD_CURSORS = ["not-a-cursor!", encode_cursor(1, 2, 3), "e30"]  # e30: {} in base64


def every_page(client: TestClient, key: str, url: str, **params: Any) -> list[list[dict[str, Any]]]:
    """The items of each page of a list, following next_cursor to the end."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        response = client.get(
            url, params={**params, "cursor": cursor} if cursor else params, headers=auth(key)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor does not move"


def assert_refuses_bad_cursors(client: TestClient, key: str, url: str, *wrong_kind: str) -> None:
    for cursor in [*BAD_CURSORS, *wrong_kind]:
        response = client.get(url, params={"cursor": cursor}, headers=auth(key))
        assert response.status_code == 422, (url, cursor, response.text)
        assert set(response.json()) == {"error", "detail"} and "cursor" in response.json()["detail"]


def test_keys_page_through_oldest_first(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        for n in range(5):
            create_key(session, f"line-{n}", "mes")
    pages = every_page(client, keys["admin"], "/api/v1/keys", limit=2)
    assert [len(page) for page in pages] == [2, 2, 2, 2, 1]
    ids = [key["id"] for page in pages for key in page]
    assert ids == sorted(set(ids)) and len(ids) == 9  # each key once, by id
    assert [k["name"] for page in pages for k in page][-5:] == [f"line-{n}" for n in range(5)]
    assert all("key" not in k and "key_hash" not in k for page in pages for k in page)
    assert every_page(client, keys["admin"], "/api/v1/keys") == [[k for page in pages for k in page]]
    too_many = client.get("/api/v1/keys", params={"limit": 51}, headers=auth(keys["admin"]))
    assert too_many.status_code == 422 and set(too_many.json()) == {"error", "detail"}
    assert_refuses_bad_cursors(
        client, keys["admin"], "/api/v1/keys", encode_cursor("line-1"), encode_cursor(-1)
    )


def test_keys_filter_by_creation_time(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        made = [create_key(session, f"day-{day}", "viewer")[0].id for day in range(5)]
        for day, key_id in enumerate(made):  # created on five days from T0
            session.execute(
                text("UPDATE api_keys SET created_at = :at WHERE id = :id"),
                {"at": T0 + timedelta(days=day), "id": key_id},
            )
    params = {"since": (T0 + timedelta(days=1)).isoformat(), "until": (T0 + timedelta(days=4)).isoformat()}
    pages = every_page(client, keys["admin"], "/api/v1/keys", limit=2, **params)
    # [since, until): days 1, 2 and 3; not the fixture's keys (created now), nor day 0 or day 4.
    assert [k["name"] for page in pages for k in page] == ["day-1", "day-2", "day-3"]
    assert [len(page) for page in pages] == [2, 1]
    only_since = every_page(client, keys["admin"], "/api/v1/keys", since=(T0 + timedelta(days=3)).isoformat())
    fixture_keys = ["viewer-key", "engineer-key", "mes-key", "admin-key"]  # created now
    assert [k["name"] for page in only_since for k in page] == [*fixture_keys, "day-3", "day-4"]
    only_until = every_page(client, keys["admin"], "/api/v1/keys", until=(T0 + timedelta(days=1)).isoformat())
    assert [k["name"] for page in only_until for k in page] == ["day-0"]
    backwards = client.get(
        "/api/v1/keys",
        params={"since": params["until"], "until": params["since"]},
        headers=auth(keys["admin"]),
    )
    assert backwards.status_code == 422 and set(backwards.json()) == {"error", "detail"}


def test_jobs_page_through_by_name(client: TestClient, keys: dict[str, str]) -> None:
    pages = every_page(client, keys["viewer"], "/api/v1/jobs", limit=5)
    assert [len(page) for page in pages] == [5, 5, len(JOB_NAMES) - 10]
    assert [job["name"] for page in pages for job in page] == sorted(JOB_NAMES)
    assert every_page(client, keys["viewer"], "/api/v1/jobs") == [[job for page in pages for job in page]]
    assert_refuses_bad_cursors(client, keys["viewer"], "/api/v1/jobs", encode_cursor(3), encode_cursor(""))


def test_alert_rules_page_through_by_name(client: TestClient, keys: dict[str, str]) -> None:
    pages = every_page(client, keys["viewer"], "/api/v1/alert-rules", limit=2)
    assert all(len(page) == 2 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 2
    assert [rule["rule"] for page in pages for rule in page] == sorted(RULES)
    whole = every_page(client, keys["viewer"], "/api/v1/alert-rules")
    assert whole == [[rule for page in pages for rule in page]]
    assert_refuses_bad_cursors(client, keys["viewer"], "/api/v1/alert-rules", encode_cursor(7))


def _register(factory: sessionmaker[Session], scopes: list[str]) -> list[int]:
    ids = []
    with transaction(factory) as session:
        for scope in scopes:
            row = model_registry.register_version(
                session, kind="rul", scope=scope, metrics={"rmse": 10.0}, params={}, data_start=None,
                data_end=None, artifact_path=None, artifact_sha256=None, evaluation_machines=["a", "b"],
            )  # fmt: skip
            ids.append(row.id)
    return ids


def test_model_versions_page_through_newest_first(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    ids = _register(session_factory, ["press", "pump", "press", "fan", "press", "pump", "fan"])
    with transaction(session_factory) as session:  # ties on created_at: the id breaks them
        for n, version_id in enumerate(ids):
            session.execute(
                text("UPDATE model_versions SET created_at = :at WHERE id = :id"),
                {"at": T0 + timedelta(days=n // 2), "id": version_id},
            )
    pages = every_page(client, keys["viewer"], "/api/v1/models", limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]  # the second page starts within a tie
    assert [v["id"] for page in pages for v in page] == ids[::-1]  # by (created_at, id), newest first
    # More versions than a page (api_max_page is 50 here): every one is reachable.
    assert every_page(client, keys["viewer"], "/api/v1/models") == [[v for page in pages for v in page]]
    too_many = client.get("/api/v1/models", params={"limit": 51}, headers=auth(keys["viewer"]))
    assert too_many.status_code == 422 and set(too_many.json()) == {"error", "detail"}

    # Filters keep working with the cursor: kind/scope, and created in [since, until).
    press = every_page(client, keys["viewer"], "/api/v1/models", kind="rul", scope="press", limit=1)
    assert [v["id"] for page in press for v in page] == [ids[4], ids[2], ids[0]]
    window = {"since": (T0 + timedelta(days=1)).isoformat(), "until": (T0 + timedelta(days=3)).isoformat()}
    ranged = every_page(client, keys["viewer"], "/api/v1/models", limit=3, **window)
    assert [v["id"] for page in ranged for v in page] == [ids[5], ids[4], ids[3], ids[2]]
    assert_refuses_bad_cursors(
        client,
        keys["viewer"],
        "/api/v1/models",
        encode_cursor(5),
        encode_cursor("2024-05-01T08:00:00", 1),  # no offset
        encode_cursor("yesterday", 1),
    )
