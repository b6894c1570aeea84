"""API keys over HTTP (admin): issue one, use it, list keys, revoke it; the plaintext is shown once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import auth


def test_admin_issues_lists_and_revokes_keys(client: TestClient, keys: dict[str, str]) -> None:
    admin = auth(keys["admin"])
    issued = client.post("/api/v1/keys", json={"name": "mes-line-3", "role": "mes"}, headers=admin)
    assert issued.status_code == 201
    new = issued.json()
    assert new["key"].startswith(f"pw_{new['prefix']}_") and new["revoked_at"] is None
    assert client.get("/api/v1/me", headers=auth(new["key"])).json()["role"] == "mes"

    listed = client.get("/api/v1/keys", headers=admin).json()["items"]
    assert [k["name"] for k in listed] == ["viewer-key", "engineer-key", "mes-key", "admin-key", "mes-line-3"]
    assert all("key" not in k for k in listed)  # never shown again

    revoked = client.delete(f"/api/v1/keys/{new['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=auth(new["key"])).status_code == 401
    assert (
        client.delete(f"/api/v1/keys/{new['id']}", headers=admin).json()["revoked_at"]
        == revoked.json()["revoked_at"]
    )
    assert client.delete("/api/v1/keys/99999", headers=admin).status_code == 404


def test_keys_are_for_admins_and_roles_are_checked(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/api/v1/keys", headers=auth(keys["engineer"])).status_code == 403
    assert (
        client.post("/api/v1/keys", json={"name": "x", "role": "mes"}, headers=auth(keys["mes"])).status_code
        == 403
    )
    bad = client.post("/api/v1/keys", json={"name": "x", "role": "root"}, headers=auth(keys["admin"]))
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
