"""Probes, app construction, CORS and the OpenAPI description."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from plantwatch.embedded import free_port
from plantwatch.settings import Settings


def test_healthz_needs_no_key_and_no_database(tmp_path: Path) -> None:
    dead = Settings(database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none", var_dir=tmp_path)
    with TestClient(create_app(dead)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok"}


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    dead = Settings(database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none", var_dir=tmp_path)
    with TestClient(create_app(dead)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"] == "not_ready"
        assert response.json()["detail"]
        # Other routes say the database is unavailable rather than a bare 500.
        machines = client.get("/api/v1/machines", headers={"X-API-Key": "pw_x_y"})
        assert machines.status_code == 503
        assert machines.json()["error"] == "unavailable"


def test_create_app_needs_a_database_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        create_app(Settings(database_url=None, var_dir=tmp_path))


def test_cors_only_when_origins_are_configured(db_url: str, tmp_path: Path) -> None:
    preflight = {"Origin": "https://plant.example", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(Settings(database_url=db_url, var_dir=tmp_path))) as client:
        assert (
            "access-control-allow-origin" not in client.options("/api/v1/machines", headers=preflight).headers
        )
    allowed = Settings(database_url=db_url, var_dir=tmp_path, cors_origins=["https://plant.example"])
    with TestClient(create_app(allowed)) as client:
        response = client.options("/api/v1/machines", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://plant.example"
        other = client.options("/api/v1/machines", headers=preflight | {"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_openapi_declares_the_api_key_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "plantwatch API"
    assert schema["info"]["version"]
    assert "X-API-Key" in schema["info"]["description"]
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert {"machines", "events", "health"} <= {tag["name"] for tag in schema["tags"]}
    listing = schema["paths"]["/api/v1/machines"]["get"]
    assert {"ApiKey": []} in listing["security"]
    assert "/api/v1/machines/{machine}/events" in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_me_names_the_calling_key(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/api/v1/me", headers={"X-API-Key": keys["viewer"]})
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "viewer" and body["name"]
    assert client.get("/api/v1/me").status_code == 401
