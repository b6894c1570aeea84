"""Planned downtime over HTTP, and its effect: no new alert, no silent alert, while a window is on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.engine import transaction
from db.tables import Alert, Machine, Prediction
from jobs.evaluate_alerts import evaluate_alerts
from jobs.silent import silent_machines
from plantwatch.settings import Settings
from tests.api.conftest import Fleet, auth


def _post(client: TestClient, key: str, **body: object) -> dict:
    response = client.post("/api/v1/downtime", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return response.json()


def test_record_list_and_withdraw(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    now = utcnow()
    machine = _post(
        client, keys["mes"], machine="MES-0001", starts_at=now.isoformat(),
        ends_at=(now + timedelta(hours=2)).isoformat(), reason="bearing swap", work_order_id="WO-7",
    )  # fmt: skip
    assert (machine["machine"], machine["line"], machine["created_by"]) == ("s1/l1/m1", None, "mes-key")
    line = _post(client, keys["mes"], line="s1/l2", starts_at=(now - timedelta(days=2)).isoformat(),
                 ends_at=(now - timedelta(days=1)).isoformat())  # fmt: skip
    assert line["line"] == "s1/l2"

    def ids(**params: object) -> list[int]:
        response = client.get("/api/v1/downtime", params=params, headers=auth(keys["viewer"]))
        assert response.status_code == 200, response.text
        return [w["id"] for w in response.json()["items"]]

    assert ids() == [line["id"], machine["id"]]
    assert ids(current=True) == [machine["id"]]
    assert ids(machine="s1/l2/m4") == [line["id"]], "a machine's windows include its line's"
    assert ids(line="s1/l1") == []
    first = client.get("/api/v1/downtime", params={"limit": 1}, headers=auth(keys["viewer"])).json()
    second = client.get("/api/v1/downtime", params={"limit": 1, "cursor": first["next_cursor"]},
                        headers=auth(keys["viewer"])).json()  # fmt: skip
    assert [w["id"] for w in first["items"] + second["items"]] == [line["id"], machine["id"]]
    assert second["next_cursor"] is None
    assert client.delete(f"/api/v1/downtime/{line['id']}", headers=auth(keys["mes"])).status_code == 204
    gone = client.delete(f"/api/v1/downtime/{line['id']}", headers=auth(keys["mes"]))
    assert gone.status_code == 404 and gone.json()["error"]
    assert ids() == [machine["id"]]


def test_bad_windows_and_roles(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    now = utcnow()
    start, end = now.isoformat(), (now + timedelta(hours=1)).isoformat()
    bad = [
        {"starts_at": start, "ends_at": end},  # no subject
        {"machine": "s1/l1/m1", "line": "s1/l1", "starts_at": start, "ends_at": end},
        {"machine": "s1/l1/m1", "starts_at": end, "ends_at": start},
        {"machine": "s1/l1/m1", "starts_at": start, "ends_at": (now + timedelta(days=91)).isoformat()},
        {"line": "no-slash", "starts_at": start, "ends_at": end},
        {"machine": "s1/l1/m1", "starts_at": "2024-01-01T00:00:00", "ends_at": end},  # no offset
    ]
    for body in bad:
        response = client.post("/api/v1/downtime", json=body, headers=auth(keys["mes"]))
        assert response.status_code == 422 and set(response.json()) == {"error", "detail"}, (
            body,
            response.text,
        )
    unknown = client.post("/api/v1/downtime", json={"machine": "x/y/z", "starts_at": start, "ends_at": end},
                          headers=auth(keys["mes"]))  # fmt: skip
    assert unknown.status_code == 404
    body = {"machine": "s1/l1/m1", "starts_at": start, "ends_at": end}
    assert client.post("/api/v1/downtime", json=body, headers=auth(keys["viewer"])).status_code == 403
    assert client.post("/api/v1/downtime", json=body).status_code == 401
    assert client.delete("/api/v1/downtime/1", headers=auth(keys["viewer"])).status_code == 403


def test_downtime_holds_new_alerts_back(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    m1, m2 = fleet.ids["s1/l1/m1"], fleet.ids["s1/l1/m2"]
    _post(client, keys["mes"], line="s1/l1", starts_at=(now - timedelta(hours=1)).isoformat(),
          ends_at=(now + timedelta(hours=1)).isoformat())  # fmt: skip
    settings = Settings(alert_min_duration_s=0, silent_after_s=60)
    with transaction(session_factory) as session:
        for machine_id in (m1, m2, fleet.ids["s1/l2/m4"]):
            session.add(Prediction(machine_id=machine_id, made_at=now, status="ok", rul=5.0))
            session.get_one(Machine, machine_id).last_seen_at = now - timedelta(hours=2)
    with transaction(session_factory) as session:
        evaluate_alerts(session, settings, now)
        silent_machines(session, settings, now)
    with transaction(session_factory) as session:
        raised = {(a.machine_id, a.rule) for a in session.scalars(select(Alert))}
    m4 = fleet.ids["s1/l2/m4"]
    assert raised == {(m4, "rul_low"), (m4, "silent")}, "only the machine outside the line's downtime"
    later = now + timedelta(hours=2)
    with transaction(session_factory) as session:
        session.add(Prediction(machine_id=m1, made_at=later, status="ok", rul=5.0))
        evaluate_alerts(session, settings, later)
    with transaction(session_factory) as session:
        assert (
            session.scalar(select(Alert).where(Alert.machine_id == m1, Alert.rule == "rul_low")) is not None
        )
