"""The Machine page against a real API: health and predicted RUL, trends, event markers, alerts, and
logging an event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from dashboard.health_charts import ALERTS_TITLE, DRIVERS_TITLE, RUL_TITLE
from db.engine import transaction
from db.tables import Machine
from services import alert_rules
from services.alert_rules import Thresholds
from tests.dashboard.conftest import ApiServer, Chart, Seed, app_test, charts_of
from tests.dashboard.health_seed import WITHHELD, HealthSeed, seed_health

HEALTH_TITLES = (RUL_TITLE, DRIVERS_TITLE, ALERTS_TITLE)


def machine_page(machine: str | None) -> AppTest:
    at = app_test()
    if machine is not None:
        at.query_params["machine"] = machine
    at.run()
    return at.switch_page("views/machine.py").run()


def all_charts(at: AppTest) -> dict[str, Chart]:
    return {chart.title: chart for chart in charts_of(at)}


def charts(at: AppTest) -> list[Chart]:
    """The sensor trends."""
    return [chart for title, chart in all_charts(at).items() if title not in HEALTH_TITLES]


def levels(chart: Chart) -> list[float]:
    """The y of the chart's horizontal lines."""
    return sorted(
        layer["encoding"]["y"]["datum"] for layer in chart.layers("rule") if "y" in layer["encoding"]
    )


@pytest.fixture
def health(dashboard_env: Seed, session_factory: sessionmaker[Session]) -> HealthSeed:
    return seed_health(dashboard_env, session_factory)


def test_charts_of_the_machine_in_the_url_with_band_and_event_marker(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m1")

    assert not at.exception
    assert at.selectbox(key="machine_pick").value == "plant-a/press/m1"
    temperature, vibration = charts(at)
    assert temperature.title == "temperature [°C]"
    assert vibration.title == "vibration"
    # The default range is 1 h: about 120 of the 241 readings every 30 s (the newest 5 s old).
    points = temperature.data["points"]
    assert len(points) in (120, 121)
    assert points["value"].iloc[-1] == 71.25
    band = [
        (rect["encoding"]["y"]["datum"], rect["encoding"]["y2"]["datum"])
        for rect in temperature.layers("rect")
    ]
    assert band == [(20.0, 80.0)] and levels(temperature) == [20.0, 80.0]
    assert not vibration.layers("rect") and not levels(vibration)
    # The maintenance 20 min ago is marked; the failure 3 days ago is outside the hour.
    assert list(temperature.data["events"]["kind"]) == ["maintenance"]
    events = at.dataframe[0].value
    assert list(events["kind"]) == ["maintenance", "failure"]
    assert list(events["note"]) == ["oiled", "seized"]


def test_longer_range_shows_older_readings_and_events(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m1")

    at.radio(key="machine_range").set_value("7 d").run()

    temperature = charts(at)[0]
    # 7 days come as 1-hour averages: the 2 h of readings fill 3 hours, with a min-max band.
    points = temperature.data["points"]
    assert len(points) == 3 and temperature.layers("area")
    assert ((points["min"] <= points["value"]) & (points["value"] <= points["max"])).all()
    assert (points["min"].min(), points["max"].max()) == (47.25, 71.25)
    assert sorted(temperature.data["events"]["kind"]) == ["failure", "maintenance"]
    assert any("1-hour averages" in caption.value for caption in at.caption)


def test_picking_another_machine_updates_the_url_and_charts(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m1")

    at.selectbox(key="machine_pick").select("plant-a/paint/p1").run()

    assert at.query_params["machine"] == "plant-a/paint/p1"
    assert [c.title for c in charts(at)] == ["humidity"]


def test_sensor_multiselect_limits_the_charts(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m1")

    at.multiselect(key=f"machine_sensors_{dashboard_env.ids['plant-a/press/m1']}").unselect(
        "temperature"
    ).run()

    assert [c.title for c in charts(at)] == ["vibration"]


def test_unknown_machine_in_the_url_says_so(dashboard_env: Seed) -> None:
    at = machine_page("plant-z/nope/x")

    assert "There is no machine 'plant-z/nope/x'" in at.warning[0].value
    assert at.selectbox(key="machine_pick").value == "plant-a/paint/p1"


def test_logging_a_failure_posts_it_to_the_api(dashboard_env: Seed, api_server: ApiServer) -> None:
    at = machine_page("plant-a/press/m2")

    at.radio(key="event_kind").set_value("failure")
    at.text_area(key="event_note").input("bearing seized")
    at.button(key="event_submit").click().run()

    assert not at.exception
    assert at.success[0].value.startswith("Logged failure of plant-a/press/m2 at ")
    assert list(at.dataframe[0].value["note"]) == ["bearing seized"]
    answer = httpx.get(
        f"{api_server.url}/api/v1/machines/{dashboard_env.ids['plant-a/press/m2']}/events",
        headers={"X-API-Key": dashboard_env.engineer_key},
    )
    events = answer.json()["items"]
    assert [(e["kind"], e["note"], e["created_by"]) for e in events] == [
        ("failure", "bearing seized", "dash-engineer")
    ]


def test_a_viewer_key_sees_why_it_cannot_log_events(dashboard_env: Seed, monkeypatch: Any) -> None:
    from plantwatch.settings import get_settings

    monkeypatch.setenv("PLANTWATCH_API_KEY", dashboard_env.viewer_key)
    get_settings.cache_clear()
    at = machine_page("plant-a/press/m2")

    at.button(key="event_submit").click().run()

    assert not at.success
    message = at.error[0].value
    assert message.startswith("Your API key may not log events: a viewer key may not do this")
    assert "engineer" in message


def test_health_rul_history_drivers_and_alert_timeline(health: HealthSeed) -> None:
    at = machine_page("plant-a/press/m1")

    assert not at.exception
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown == {"Health": "🔴 critical", "Predicted RUL": "12", "P(failure within 30)": "30%",
                     "Health score": "55"}  # fmt: skip
    assert any(caption.value == "RUL interval 8-18 cycles." for caption in at.caption)
    found = all_charts(at)
    # The last hour holds 3 of the 4 predictions, oldest first, with their interval as a band.
    rul = found[RUL_TITLE]
    predictions = rul.data["predictions"]
    assert list(predictions["rul"]) == [30.0, 20.0, 12.0] and rul.layers("area")
    assert list(predictions["high"]) == [36.0, 26.0, 18.0] and list(predictions["low"]) == [26.0, 16.0, 8.0]
    assert list(rul.data["events"]["kind"]) == ["maintenance"]
    assert levels(rul) == [20, 50]
    drivers = found[DRIVERS_TITLE]
    assert drivers.data["drivers"].set_index("sensor")["score"].to_dict() == {
        "temperature": 9.5,
        "vibration": 2.25,
    }
    assert drivers.layers("bar")[0]["encoding"]["y"]["sort"] == "-x"  # strongest on top
    # Active alerts of the hour (the one resolved a day ago is outside it), newest first.
    ids = health.alert_ids
    alerts = at.dataframe[0].value
    assert list(alerts["id"]) == [ids["low"], ids["stuck"]]
    assert list(alerts["state"]) == ["open", "acknowledged"]
    assert alerts["acknowledged"][1].endswith("dash-engineer")
    assert list(alerts["alert"]) == [f"alerts?alert={ids['low']}", f"alerts?alert={ids['stuck']}"]
    timeline = found[ALERTS_TITLE]
    labels = [f"#{ids['low']} rul_low", f"#{ids['stuck']} sensor_stuck"]
    assert list(timeline.data["alerts"]["label"]) == labels  # newest on top
    assert list(timeline.data["acknowledged"]["label"]) == labels[1:]
    assert list(at.dataframe[1].value["kind"]) == ["maintenance", "failure"]  # the events follow


def test_rul_chart_lines_are_the_thresholds_in_effect_for_the_machine(
    health: HealthSeed, dashboard_env: Seed, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        m1, m2 = (session.get(Machine, dashboard_env.ids[f"plant-a/press/{name}"]) for name in ("m1", "m2"))
        assert m1 is not None and m2 is not None
        line = Thresholds(True, 150.0, 75.0, 0.0, 0, "test")
        alert_rules.set_override(session, "rul_low", m1.line_id, None, line, "test", dashboard_env.now)
        off = Thresholds(False, None, None, 0.0, 0, "test")
        alert_rules.set_override(session, "rul_low", None, m2.id, off, "test", dashboard_env.now)

    assert levels(all_charts(machine_page("plant-a/press/m1"))[RUL_TITLE]) == [75, 150]  # its line's
    assert levels(all_charts(machine_page("plant-a/press/m2"))[RUL_TITLE]) == []  # off for m2 itself


def test_a_week_shows_every_prediction_and_the_resolved_alert(health: HealthSeed) -> None:
    at = machine_page("plant-a/press/m1")

    at.radio(key="machine_range").set_value("7 d").run()

    rul = all_charts(at)[RUL_TITLE]
    assert list(rul.data["predictions"]["rul"]) == [90.0, 30.0, 20.0, 12.0]
    assert sorted(rul.data["events"]["kind"]) == ["failure", "maintenance"]
    alerts = at.dataframe[0].value
    assert list(alerts["id"]) == [health.alert_ids[k] for k in ("low", "stuck", "old")]
    assert alerts["resolved"][2].endswith("system")


def test_a_shorter_range_shows_only_its_predictions(health: HealthSeed) -> None:
    at = machine_page("plant-a/press/m1")

    at.radio(key="machine_range").set_value("15 min").run()  # the latest prediction is 10 min old

    assert list(all_charts(at)[RUL_TITLE].data["predictions"]["rul"]) == [12.0]
    # Opened 40 min ago but still active, the stuck alert belongs to these 15 minutes too.
    assert list(at.dataframe[0].value["id"]) == [health.alert_ids["low"], health.alert_ids["stuck"]]


def test_withheld_prediction_says_why(health: HealthSeed) -> None:
    at = machine_page("plant-b/assembly/a1")

    assert not at.exception
    assert any(w.value == f"Prediction withheld: {WITHHELD}." for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Health"] == "⚪ n/a"
    assert "No prediction of the last 1 h has a RUL" in at.info[0].value
    assert RUL_TITLE not in all_charts(at) and DRIVERS_TITLE not in all_charts(at)


def test_no_predictions_and_no_alerts_say_what_to_do(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m2")

    assert not at.exception
    captions = [caption.value for caption in at.caption]
    pending = next(c for c in captions if c.startswith("No prediction for plant-a/press/m2 yet: not scored"))
    assert "Models page" in pending
    assert "No alert on this machine in the last 1 h." in captions
    assert {m.label: m.value for m in at.metric}["Predicted RUL"] == "n/a"
    assert not set(HEALTH_TITLES) & set(all_charts(at))
