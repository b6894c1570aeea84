"""Every error is JSON `{"error", "detail"}`: auth, roles, routing, validation, and the 500 fallback."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.deps import require_role
from db.engine import transaction
from plantwatch.settings import Settings
from services.api_keys import revoke_by_name
from tests.api.conftest import Fleet, auth


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert body["detail"]
    return dict(body)


def test_no_key_is_401(client: TestClient, fleet: Fleet) -> None:
    body = assert_error(client.get("/api/v1/machines"), 401, "unauthorized")
    assert "X-API-Key" in str(body["detail"])


def test_bad_keys_are_401(client: TestClient, keys: dict[str, str]) -> None:
    for headers in (
        {"X-API-Key": "pw_nothere_nothing"},
        {"X-API-Key": "not-even-our-format"},
        {"Authorization": "Bearer pw_nothere_nothing"},
        {"Authorization": f"Basic {keys['viewer']}"},
    ):
        assert_error(client.get("/api/v1/machines", headers=headers), 401, "unauthorized")


def test_bearer_key_is_accepted(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/api/v1/machines", headers={"Authorization": f"Bearer {keys['viewer']}"})
    assert response.status_code == 200


def test_revoked_key_is_401(
    api_settings: Settings, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    """Revoked elsewhere (the CLI): refused once the API's cached check expires (api_key_cache_s)."""
    settings = api_settings.model_copy(update={"api_key_cache_s": 0.5})
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/machines", headers=auth(keys["viewer"])).status_code == 200
        with transaction(session_factory) as session:
            assert revoke_by_name(session, "viewer-key") == 1
        time.sleep(0.6)
        assert_error(client.get("/api/v1/machines", headers=auth(keys["viewer"])), 401, "unauthorized")


def test_viewer_posting_an_event_is_403(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    response = client.post(
        "/api/v1/machines/s1/l1/m1/events", json={"kind": "failure"}, headers=auth(keys["viewer"])
    )
    assert_error(response, 403, "forbidden")


def test_unknown_route_and_method(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    assert_error(client.get("/api/v2/nothing", headers=auth(keys["viewer"])), 404, "not_found")
    assert_error(client.delete("/api/v1/machines", headers=auth(keys["admin"])), 405, "method_not_allowed")


def test_malformed_json_bodies_are_4xx(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    url = "/api/v1/machines/s1/l1/m1/events"
    headers = auth(keys["engineer"]) | {"Content-Type": "application/json"}
    for content in (b"{", b'{"kind": "failure",}', b"\xff\xfe", b"", b"null", b"[]", b'"failure"', b"1e999"):
        response = client.post(url, content=content, headers=headers)
        body = assert_error(response, 422, "invalid_request")
        assert any("body" in line for line in body["detail"]), content
    plain = client.post(
        url, content=b'{"kind": "failure"}', headers=auth(keys["engineer"]) | {"Content-Type": "text/plain"}
    )
    assert 400 <= plain.status_code < 500


def test_unexpected_errors_are_a_generic_500(
    api_settings: Settings, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(api_settings)

    def explode() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/boom", explode, dependencies=[])
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, "api.errors"),
    ):
        response = client.get("/boom")
    body = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert "hunter2" not in str(body["detail"])
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)


def test_require_role_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="superuser"):
        require_role("superuser")
