"""Every endpoint's required role: 401 without a key (or with a revoked one), 403 for a role that may
not, and through for one that may. The table is the contract; a new endpoint must be added to it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.tables import AuditEntry
from tests.api.conftest import Fleet, auth

READ = {"viewer", "engineer", "mes", "admin"}
ENGINEER = {"engineer", "admin"}
WRITER = {"engineer", "mes", "admin"}  # events, uploads
MES = {"mes", "admin"}  # work-order outcomes, planned downtime
ADMIN = {"admin"}
OPEN = None  # probes: no key needed

ROLES: dict[tuple[str, str], set[str] | None] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/api/v1/me"): READ,
    ("GET", "/api/v1/keys"): ADMIN,
    ("POST", "/api/v1/keys"): ADMIN,
    ("DELETE", "/api/v1/keys/{key_id}"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    ("GET", "/api/v1/jobs"): READ,
    ("GET", "/api/v1/jobs/runs"): READ,
    ("POST", "/api/v1/jobs/{job_name}/requests"): ADMIN,
    ("GET", "/api/v1/jobs/requests/{request_id}"): READ,
    ("GET", "/api/v1/models"): READ,
    ("POST", "/api/v1/models/{version_id}/promote"): ADMIN,
    ("POST", "/api/v1/models/rollback"): ADMIN,
    ("POST", "/api/v1/models/{kind}/retrain"): ADMIN,
    ("POST", "/api/v1/machines/{machine}/events"): WRITER,
    ("GET", "/api/v1/machines/{machine}/events"): READ,
    ("POST", "/api/v1/downtime"): MES,
    ("GET", "/api/v1/downtime"): READ,
    ("DELETE", "/api/v1/downtime/{window_id}"): MES,
    ("GET", "/api/v1/alert-rules"): READ,
    ("PUT", "/api/v1/alert-rules/{rule}"): ADMIN,
    ("DELETE", "/api/v1/alert-rules/{rule}"): ADMIN,
    ("GET", "/api/v1/alert-figures"): READ,
    ("GET", "/api/v1/alerts"): READ,
    ("GET", "/api/v1/alerts/{alert_id}"): READ,
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): ENGINEER,
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): ENGINEER,
    ("POST", "/api/v1/alerts/{alert_id}/comments"): ENGINEER,
    ("POST", "/api/v1/alerts/{alert_id}/shelve"): ENGINEER,
    ("DELETE", "/api/v1/alerts/{alert_id}/shelve"): ENGINEER,
    ("POST", "/api/v1/alerts/{alert_id}/outcome"): MES,
    ("POST", "/api/v1/machines"): ADMIN,
    ("GET", "/api/v1/machines"): READ,
    ("POST", "/api/v1/machines/{machine}/sensors"): ADMIN,
    ("GET", "/api/v1/machines/{machine}/sensors"): READ,
    ("GET", "/api/v1/machines/{machine}/sensors/{sensor}"): READ,
    ("PATCH", "/api/v1/machines/{machine}/sensors/{sensor}"): ADMIN,
    ("DELETE", "/api/v1/machines/{machine}/sensors/{sensor}"): ADMIN,
    ("PATCH", "/api/v1/machines/{machine}"): ADMIN,
    ("DELETE", "/api/v1/machines/{machine}"): ADMIN,
    ("GET", "/api/v1/machines/{machine}"): READ,
    ("GET", "/api/v1/sites"): READ,
    ("POST", "/api/v1/sites"): ADMIN,
    ("GET", "/api/v1/sites/{site}"): READ,
    ("PATCH", "/api/v1/sites/{site}"): ADMIN,
    ("DELETE", "/api/v1/sites/{site}"): ADMIN,
    ("GET", "/api/v1/lines"): READ,
    ("POST", "/api/v1/lines"): ADMIN,
    ("GET", "/api/v1/lines/{line}"): READ,
    ("PATCH", "/api/v1/lines/{line}"): ADMIN,
    ("DELETE", "/api/v1/lines/{line}"): ADMIN,
    ("GET", "/api/v1/machines/{machine}/readings"): READ,
    ("GET", "/api/v1/machines/{machine}/health"): READ,
    ("GET", "/api/v1/machines/{machine}/predictions"): READ,
    ("GET", "/api/v1/health"): READ,
    ("POST", "/api/v1/predict/rul"): READ,
    ("GET", "/api/v1/quality"): READ,
    ("GET", "/api/v1/dead-letters"): READ,
    ("GET", "/api/v1/dead-letters/summary"): READ,
    ("POST", "/api/v1/dead-letters/replay"): ADMIN,
    ("POST", "/api/v1/inspections"): WRITER,
    ("GET", "/api/v1/inspections"): READ,
    ("GET", "/api/v1/inspections/{inspection_id}"): READ,
    ("PATCH", "/api/v1/inspections/{inspection_id}"): ENGINEER,
    ("GET", "/api/v1/inspections/{inspection_id}/image"): READ,
}

# Path parameters that name something real where a name is needed, and ids that exist nowhere (so a
# permitted call cannot revoke the test's own keys or retire what the next call needs).
PARAMS = {"machine": "s1/l1/m1", "sensor": "temperature", "site": "s1", "rule": "rul_low", "kind": "rul"}
PARAMS |= {"line": "s1/l1"}
PARAMS |= {"job_name": "score_machines"}


def _url(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS.get(m.group(1), "999999"), template)


# Changes that change something (an empty PATCH writes nothing, so it leaves no audit entry).
BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("PATCH", "/api/v1/lines/{line}"): {"external_code": "ROLE-TEST-LINE"},
    ("PATCH", "/api/v1/sites/{site}"): {"external_code": "ROLE-TEST-SITE"},
    ("PATCH", "/api/v1/machines/{machine}"): {"machine_type": "role-test"},
    ("PATCH", "/api/v1/machines/{machine}/sensors/{sensor}"): {"unit": "role-test"},
}


def _call(client: TestClient, method: str, template: str, headers: dict[str, str]) -> int:
    body = BODIES.get((method, template), {}) if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, _url(template), headers=headers, json=body).status_code


def test_the_table_names_every_endpoint(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operations = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert operations == set(ROLES)


def _audit_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_required_role_of_every_endpoint(
    client: TestClient,
    keys: dict[str, str],
    fleet: Fleet,
    revoked_key: str,
    session_factory: sessionmaker[Session],
) -> None:
    """All endpoints in one test (one app and one set of keys: 60 apps would cost a minute of CI);
    every mismatch is listed at the end. Every write the admin's call made is in the audit log."""
    wrong: list[str] = []
    unaudited: list[str] = []
    for method, template in sorted(ROLES):
        allowed = ROLES[(method, template)]
        if allowed is None:
            if (status := _call(client, method, template, {})) != 200:
                wrong.append(f"{method} {template}: open probe answered {status}")
            continue
        anonymous = [
            _call(client, method, template, headers)
            for headers in ({}, auth("pw_00000000_not-a-key"), auth(revoked_key))
        ]
        if anonymous != [401, 401, 401]:
            wrong.append(f"{method} {template}: no, unknown, revoked key answered {anonymous}")
        got = {
            role: _call(client, method, template, auth(keys[role])) for role in ("viewer", "engineer", "mes")
        }
        audited = _audit_count(session_factory)
        got["admin"] = _call(client, method, template, auth(keys["admin"]))  # last: it may change things
        if method != "GET" and got["admin"] < 300 and _audit_count(session_factory) == audited:
            unaudited.append(f"{method} {template}: answered {got['admin']} without an audit entry")
        refused = {role for role, status in got.items() if status == 403}
        if refused != READ - allowed or any(status in (401, 500) for status in got.values()):
            wrong.append(f"{method} {template}: expected 403 for {sorted(READ - allowed)}, got {got}")
    assert wrong == [], "\n".join(wrong)
    assert unaudited == [], "\n".join(unaudited)


@pytest.fixture
def revoked_key(client: TestClient, keys: dict[str, str]) -> str:
    made = client.post(
        "/api/v1/keys", json={"name": "old", "role": "admin"}, headers=auth(keys["admin"])
    ).json()
    assert client.delete(f"/api/v1/keys/{made['id']}", headers=auth(keys["admin"])).status_code == 200
    return str(made["key"])
