"""Alert-quality figures per line: load, chattering, standing, false alarms, time to acknowledge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from services import alerts
from services.alert_figures import alert_figures
from tests.api.conftest import auth

START = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=10)


def _seed(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        a = register_machine(session, "s1", "l1", "a").id
        b = register_machine(session, "s1", "l2", "b").id
        # a chatters: opened and cleared three times within 40 minutes
        for minute in (0, 20, 40):
            alert = alerts.raise_or_update(
                session, a, "rul_low", "warning", "low", START + timedelta(minutes=minute)
            )
            alerts.resolve(session, alert, "system", START + timedelta(minutes=minute + 5))
        # on l1 too: acknowledged after 10 min, then found no fault
        other = alerts.raise_or_update(
            session, a, "sensor_stuck", "warning", "stuck", START + timedelta(hours=2)
        )
        alerts.acknowledge(session, other, "eve", None, START + timedelta(hours=2, minutes=10))
        alerts.record_outcome(session, other, "no_fault_found", "mes", START + timedelta(hours=3))
        # b: a standing alert from two days before, and one with a found fault, three hours apart (no chatter)
        alerts.raise_or_update(session, b, "silent", "warning", "quiet", START - timedelta(days=2))
        found = alerts.raise_or_update(session, b, "rul_low", "critical", "low", START + timedelta(hours=1))
        alerts.record_outcome(session, found, "fault_found", "mes", START + timedelta(hours=2))
        alerts.raise_or_update(session, b, "rul_low", "warning", "low", START + timedelta(hours=5))


def test_figures_per_line(session_factory: sessionmaker[Session]) -> None:
    _seed(session_factory)
    with transaction(session_factory) as session:
        figures = {f.line: f for f in alert_figures(session, START, END)}
    l1, l2 = figures["s1/l1"], figures["s1/l2"]
    assert (l1.opened, l1.standing, l1.false_alarms, l1.with_outcome) == (4, 0, 1, 1)
    assert l1.per_engineer_hour == 0.4
    assert l1.chattering == [{"subject": "s1/l1/a", "rule": "rul_low", "opened": 3}]
    assert l1.median_minutes_to_acknowledge == 10
    assert (l2.opened, l2.standing, l2.false_alarms, l2.false_alarm_fraction) == (2, 1, 0, 0.0)
    assert l2.chattering == [] and l2.median_minutes_to_acknowledge is None


def test_figures_over_http(
    session_factory: sessionmaker[Session], client: TestClient, keys: dict[str, str]
) -> None:
    _seed(session_factory)
    params = {"since": START.isoformat(), "until": END.isoformat(), "line": "s1/l2"}
    response = client.get("/api/v1/alert-figures", params=params, headers=auth(keys["viewer"]))
    assert response.status_code == 200, response.text
    assert [line["line"] for line in response.json()["lines"]] == ["s1/l2"]
    bad = client.get(
        "/api/v1/alert-figures", params={**params, "since": END.isoformat()}, headers=auth(keys["viewer"])
    )
    assert bad.status_code == 422 and bad.json()["error"]
    assert client.get("/api/v1/alert-figures").status_code == 401
