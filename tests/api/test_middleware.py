"""Request ids, ETags, body limits, the audit log and /metrics, through the real app and database."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.middleware import RequestIdFilter
from db.tables import AuditEntry
from plantwatch.embedded import free_port
from plantwatch.settings import Settings
from tests.api.conftest import Fleet, auth


def test_request_id_is_echoed_or_made(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    given = client.get("/api/v1/machines", headers={**auth(keys["viewer"]), "X-Request-ID": "mes-42.a"})
    assert given.headers["x-request-id"] == "mes-42.a"
    made = client.get("/api/v1/machines", headers=auth(keys["viewer"]))
    other = client.get("/api/v1/machines", headers=auth(keys["viewer"]))
    assert (
        len(made.headers["x-request-id"]) == 32
        and made.headers["x-request-id"] != other.headers["x-request-id"]
    )
    # An id that could forge log lines is replaced, not echoed.
    forged = client.get("/healthz", headers={"X-Request-ID": 'x injected" level=ERROR'})
    assert forged.headers["x-request-id"] != 'x injected" level=ERROR'
    errored = client.get("/api/v1/machines/nope", headers={**auth(keys["viewer"]), "X-Request-ID": "r-404"})
    assert errored.status_code == 404 and errored.headers["x-request-id"] == "r-404"


def test_request_log_names_the_request(
    client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())  # as `plantwatch api` does on its log handlers
    with caplog.at_level(logging.INFO, logger="api.requests"):
        client.get("/api/v1/me", headers={**auth(keys["viewer"]), "X-Request-ID": "trace-me"})
    lines = [r for r in caplog.records if r.name == "api.requests" and "/api/v1/me" in r.getMessage()]
    assert [(getattr(r, "request_id", None), r.getMessage().split()[2]) for r in lines] == [
        ("trace-me", "200")
    ]


def test_etag_and_not_modified(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    headers = auth(keys["viewer"])
    first = client.get("/api/v1/health", headers=headers)
    etag = first.headers["etag"]
    again = client.get("/api/v1/health", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/api/v1/health", headers={**headers, "If-None-Match": f"W/{etag}"}).status_code == 304
    client.patch("/api/v1/machines/s1/l1/m2", json={"machine_type": "pump"}, headers=auth(keys["admin"]))
    changed = client.get("/api/v1/health", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["items"]


def test_oversized_bodies_get_413(client: TestClient, keys: dict[str, str], api_settings: Settings) -> None:
    big = b'{"x": "' + b"a" * api_settings.api_max_body_bytes + b'"}'
    declared = client.post(
        "/api/v1/downtime", content=big, headers={**auth(keys["admin"]), "Content-Type": "application/json"}
    )
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(api_settings.api_max_body_bytes // 65536 + 2):
            yield b"a" * 65536

    streamed = client.post(
        "/api/v1/downtime",
        content=chunks(),
        headers={**auth(keys["admin"]), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413 and streamed.json()["error"] == "too_large"


def test_committed_writes_are_audited(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    ok = client.patch(
        "/api/v1/machines/s1/l1/m1?why=test",
        json={"external_code": "MES-9"},
        headers={**auth(keys["admin"]), "X-Request-ID": "audit-1"},
    )
    assert ok.status_code == 200
    refused = client.patch("/api/v1/machines/nope", json={"machine_type": "x"}, headers=auth(keys["admin"]))
    assert refused.status_code == 404
    client.get("/api/v1/machines", headers=auth(keys["admin"]))
    # Retiring a retired machine answers 200 but changes nothing: not a write, not audited.
    for _ in range(2):
        assert client.delete("/api/v1/machines/s1/l1/m3", headers=auth(keys["admin"])).status_code == 200
    with session_factory() as session:
        entries = session.scalars(select(AuditEntry)).all()
    assert [(e.key_name, e.role, e.method, e.path, e.query, e.request_id) for e in entries][:1] == [
        ("admin-key", "admin", "PATCH", "/api/v1/machines/s1/l1/m1", "why=test", "audit-1")
    ]
    assert [(e.method, e.path) for e in entries][1:] == [("DELETE", "/api/v1/machines/s1/l1/m3")]
    assert entries[0].route == "/api/v1/machines/{machine:path}"
    listed = client.get("/api/v1/audit", params={"key_name": "admin-key"}, headers=auth(keys["admin"]))
    assert [e["request_id"] for e in listed.json()["items"]][-1] == "audit-1"
    assert client.get("/api/v1/audit", headers=auth(keys["engineer"])).status_code == 403
    future = client.get(
        "/api/v1/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=auth(keys["admin"])
    )
    assert future.json()["items"] == []


def test_metrics_behind_a_setting(api_settings: Settings, keys: dict[str, str], fleet: Fleet) -> None:
    with TestClient(create_app(api_settings)) as off:
        assert off.get("/metrics").status_code == 404
    on_settings = api_settings.model_copy(update={"api_metrics": True})
    with TestClient(create_app(on_settings)) as on:
        on.get("/api/v1/machines/s1/l1/m1", headers=auth(keys["viewer"]))
        body = on.get("/metrics").text
    assert (
        'plantwatch_api_requests_total{method="GET",route="/api/v1/machines/{machine:path}",status="200"}'
        in body
    )
    assert "plantwatch_api_request_seconds_bucket" in body
    assert "plantwatch_ingest_newest_reading_age_seconds" in body
    assert "plantwatch_model_champion_version" in body


def test_metrics_answer_without_the_database(api_settings: Settings, keys: dict[str, str]) -> None:
    app = create_app(api_settings.model_copy(update={"api_metrics": True}))
    with TestClient(app) as client:
        client.get("/api/v1/machines", headers=auth(keys["viewer"]))
        nobody = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"  # nothing listens there
        app.state.session_factory.configure(bind=create_engine(nobody))
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert 'route="/api/v1/machines",status="200"' in answer.text
    assert "plantwatch_model_champion_version" not in answer.text
