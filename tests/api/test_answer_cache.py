"""Fleet health and alert lists are served again while the data is unchanged, and never after it changed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import Prediction
from services import alerts
from tests.api.conftest import Fleet, auth

T = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _get(client: TestClient, key: str, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _rul(client: TestClient, key: str, machine: str) -> float | None:
    items = _get(client, key, "/api/v1/health", site="s1")["items"]
    return next(item["rul"] for item in items if item["machine"] == machine)


def _sneak(factory: sessionmaker[Session], sql: str) -> None:
    """A change the version triggers do not see (replica mode skips them): only a kept answer hides it."""
    with transaction(factory) as session:
        session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(text(sql))


def test_health_is_kept_until_a_write_changes_it(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    m1 = fleet.ids["s1/l1/m1"]
    with transaction(session_factory) as session:
        session.add(Prediction(machine_id=m1, rul=80.0, made_at=T))
    viewer = keys["viewer"]
    assert _rul(client, viewer, "s1/l1/m1") == 80.0

    _sneak(session_factory, "UPDATE predictions SET rul = 70")
    assert _rul(client, viewer, "s1/l1/m1") == 80.0, "the kept answer"
    other = _get(client, viewer, "/api/v1/health", site="s1", line="l1")["items"]
    assert other[0]["rul"] == 70.0, "another request is another answer"

    with transaction(session_factory) as session:  # as the scoring job writes, in its own transaction
        session.add(Prediction(machine_id=m1, rul=60.0, made_at=T.replace(hour=9)))
    assert _rul(client, viewer, "s1/l1/m1") == 60.0


def test_alert_lists_follow_actions_at_once(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        first = alerts.raise_or_update(session, fleet.ids["s1/l1/m1"], "rul_low", "warning", "low", T).id
        second = alerts.raise_or_update(session, fleet.ids["s1/l1/m2"], "rul_low", "warning", "low", T).id
    viewer, engineer = keys["viewer"], keys["engineer"]

    def open_ids(**params: Any) -> set[int]:
        return {a["id"] for a in _get(client, viewer, "/api/v1/alerts", state="open", **params)["items"]}

    assert open_ids() == {first, second}
    response = client.post(
        f"/api/v1/alerts/{first}/acknowledge", json={"comment": "on it"}, headers=auth(engineer)
    )
    assert response.status_code == 200, response.text
    assert open_ids() == {second}, "an action through the API shows in the next list"
    with transaction(session_factory) as session:  # the alert job, in another process
        alerts.acknowledge(session, second, "job", None, T)
    assert open_ids() == set()

    _sneak(session_factory, "UPDATE alerts SET state = 'open'")
    assert open_ids() == set(), "the kept answer"
    assert open_ids(shelved="false") == {first, second}, "lists that depend on the time are never kept"


def test_nothing_is_kept_when_turned_off(
    api_settings: Any, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    from api.app import create_app

    m1 = fleet.ids["s1/l1/m1"]
    with transaction(session_factory) as session:
        session.add(Prediction(machine_id=m1, rul=80.0, made_at=T))
    with TestClient(create_app(api_settings.model_copy(update={"api_answer_cache": 0}))) as client:
        assert _rul(client, keys["viewer"], "s1/l1/m1") == 80.0
        _sneak(session_factory, "UPDATE predictions SET rul = 70")
        assert _rul(client, keys["viewer"], "s1/l1/m1") == 70.0


def test_health_rates_each_machine_by_its_lines_thresholds_and_follows_a_change_at_once(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        for path in ("s1/l1/m1", "s1/l2/m4"):
            session.add(Prediction(machine_id=fleet.ids[path], status="ok", rul=100.0, made_at=T))

    def severities() -> dict[str, str | None]:
        items = _get(client, keys["viewer"], "/api/v1/health", site="s1")["items"]
        return {
            item["machine"]: item["severity"] for item in items if item["machine"] in ("s1/l1/m1", "s1/l2/m4")
        }

    assert severities() == {"s1/l1/m1": "ok", "s1/l2/m4": "ok"}  # the defaults: warning at 50
    override = {"line": "s1/l1", "warning": 150, "critical": 60}
    assert (
        client.put("/api/v1/alert-rules/rul_low", json=override, headers=auth(keys["admin"])).status_code
        == 200
    )
    assert severities() == {"s1/l1/m1": "warning", "s1/l2/m4": "ok"}, "a kept answer hid the new threshold"
    health = _get(client, keys["viewer"], "/api/v1/machines/s1/l1/m1/health")
    assert health["severity"] == "warning"
