"""The Alerts page against a real API: filters, and acknowledging and resolving change the API's alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from db.engine import transaction
from db.tables import Alert
from services import alerts
from tests.dashboard.conftest import ApiServer, Seed, api, app_test


@pytest.fixture
def seeded_alerts(dashboard_env: Seed, session_factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(session_factory) as session:
        m1, m2 = dashboard_env.ids["plant-a/press/m1"], dashboard_env.ids["plant-a/paint/p1"]
        now = dashboard_env.now
        ids = {
            "low": alerts.raise_or_update(session, m1, "rul_low", "critical", "predicted RUL 12", now).id,
            "stuck": alerts.raise_or_update(
                session, m2, "sensor_stuck", "warning", "stuck: humidity", now
            ).id,
        }
        old = alerts.raise_or_update(session, m2, "silent", "warning", "quiet", now - timedelta(days=1))
        alerts.resolve(session, old, "system", now)
        ids["old"] = old.id
    return ids


def alerts_page() -> AppTest:
    at = app_test()
    at.run()
    return at.switch_page("views/alerts.py").run()


def test_filters_show_the_api_alerts(seeded_alerts: dict[str, int]) -> None:
    at = alerts_page()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["id"]) == [seeded_alerts["stuck"], seeded_alerts["low"]]
    assert list(table["subject"]) == ["plant-a/paint/p1", "plant-a/press/m1"]
    at.selectbox(key="alerts_severity").select("Critical").run()
    assert list(at.dataframe[0].value["id"]) == [seeded_alerts["low"]]
    at.selectbox(key="alerts_severity").select("All").run()
    at.selectbox(key="alerts_state").select("Resolved").run()
    assert list(at.dataframe[0].value["id"]) == [seeded_alerts["old"]]
    assert at.selectbox(key="alerts_line").options == [
        "All",
        "plant-a/paint",
        "plant-a/press",
        "plant-b/assembly",
    ]
    at.selectbox(key="alerts_line").select("plant-a/press").run()
    assert not at.dataframe and "No alert matches" in at.info[0].value
    at.selectbox(key="alerts_state").select("Active (open or acknowledged)").run()
    assert list(at.dataframe[0].value["id"]) == [seeded_alerts["low"]]  # the line's machine's alert


def test_acknowledge_then_resolve(
    seeded_alerts: dict[str, int],
    session_factory: sessionmaker[Session],
    api_server: ApiServer,
    dashboard_env: Seed,
) -> None:
    at = alerts_page()
    choice = next(
        o for o in at.selectbox(key="alert_choice").options if o.startswith(f"#{seeded_alerts['low']} ")
    )
    at.selectbox(key="alert_choice").select(choice)
    at.text_input(key="alert_comment").input("bearing ordered")
    at.button[0].click().run()  # Acknowledge
    assert not at.exception and "acknowledged" in at.success[0].value
    # The page shows the alert's new state at once (it reruns after the action).
    shown = at.dataframe[0].value
    assert dict(zip(shown["id"], shown["state"], strict=True))[seeded_alerts["low"]] == "acknowledged"
    assert at.metric[2].value == "1"  # unacknowledged: only the stuck sensor's now
    with transaction(session_factory) as session:
        low = session.get_one(Alert, seeded_alerts["low"])
        assert (low.state, low.acknowledged_by, low.comment) == (
            "acknowledged",
            "dash-engineer",
            "bearing ordered",
        )
    at.selectbox(key="alert_choice").select(choice)
    at.text_input(key="alert_comment").input("bearing replaced")
    at.button[1].click().run()  # Resolve
    key = dashboard_env.engineer_key
    low = api(api_server, key, f"/alerts/{seeded_alerts['low']}")
    assert (low["state"], low["resolved_by"]) == ("resolved", "dash-engineer")
    steps = [(step["kind"], step["actor"], step["comment"]) for step in low["history"]]
    assert ("acknowledged", "dash-engineer", "bearing ordered") in steps
    assert ("resolved", "dash-engineer", "bearing replaced") in steps, steps
    assert api(api_server, key, f"/alerts/{seeded_alerts['stuck']}")["state"] == "open"


def test_rule_filter_and_an_alerts_history_from_a_link(
    seeded_alerts: dict[str, int], session_factory: sessionmaker[Session]
) -> None:
    at = alerts_page()
    assert {"rul_low", "sensor_stuck", "quality"} <= set(at.selectbox(key="alerts_rule").options)
    at.selectbox(key="alerts_rule").select("sensor_stuck").run()
    assert list(at.dataframe[0].value["id"]) == [seeded_alerts["stuck"]]
    at.selectbox(key="alerts_rule").select("All").run()

    with transaction(session_factory) as session:
        low = session.get_one(Alert, seeded_alerts["low"])
        alerts.acknowledge(session, low, "someone", "looking", low.opened_at + timedelta(minutes=5))
    linked = app_test()
    linked.query_params["alert"] = str(seeded_alerts["low"])
    linked.run()
    linked.switch_page("views/alerts.py").run()
    assert not linked.exception
    assert str(linked.selectbox(key="alert_history_pick").value).startswith(f"#{seeded_alerts['low']} ")
    history = linked.dataframe[1].value
    assert list(history["what"])[-1] == "acknowledged" and list(history["comment"])[-1] == "looking"


def test_a_viewer_sees_the_alerts_but_may_not_act(dashboard_env: Seed, seeded_alerts: dict[str, int]) -> None:
    at = app_test()
    at.session_state["pw_api_key"] = dashboard_env.viewer_key
    at.run()
    at.switch_page("views/alerts.py").run()
    assert not at.exception and len(at.dataframe[0].value) == 2
    actions = [button for button in at.button if button.label in ("Acknowledge", "Resolve")]
    assert len(actions) == 2 and all(button.disabled for button in actions)
    assert any("acknowledge and resolve alerts needs" in caption.value for caption in at.caption)
