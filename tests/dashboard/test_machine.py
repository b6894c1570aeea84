"""The Machine page against a real API: health and predicted RUL, trends, event markers, alerts, and
logging an event."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from dashboard.health_charts import ALERTS_TITLE, DRIVERS_TITLE, RUL_TITLE
from tests.dashboard.conftest import ApiServer, Seed, app_test
from tests.dashboard.health_seed import WITHHELD, HealthSeed, seed_health

HEALTH_TITLES = (RUL_TITLE, DRIVERS_TITLE, ALERTS_TITLE)


def machine_page(machine: str | None) -> AppTest:
    at = app_test()
    if machine is not None:
        at.query_params["machine"] = machine
    at.run()
    return at.switch_page("views/machine.py").run()


def all_charts(at: AppTest) -> dict[str, dict[str, Any]]:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def charts(at: AppTest) -> list[dict[str, Any]]:
    """The sensor trends."""
    return [spec for title, spec in all_charts(at).items() if title not in HEALTH_TITLES]


@pytest.fixture
def health(dashboard_env: Seed, session_factory: sessionmaker[Session]) -> HealthSeed:
    return seed_health(dashboard_env, session_factory)


def test_charts_of_the_machine_in_the_url_with_band_and_event_marker(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m1")

    assert not at.exception
    assert at.selectbox(key="machine_pick").value == "plant-a/press/m1"
    temperature, vibration = charts(at)
    assert temperature["layout"]["title"]["text"] == "temperature [°C]"
    assert vibration["layout"]["title"]["text"] == "vibration"
    # The default range is 1 h: about 120 of the 241 readings every 30 s (the newest 5 s old).
    assert len(temperature["data"][0]["y"]) in (120, 121)
    assert temperature["data"][0]["y"][-1] == 71.25
    shapes = temperature["layout"]["shapes"]
    band = [s for s in shapes if s["type"] == "rect"]
    assert [(s["y0"], s["y1"]) for s in band] == [(20.0, 80.0)]
    assert not [s for s in vibration["layout"]["shapes"] if s["type"] == "rect"]
    # The maintenance 20 min ago is marked; the failure 3 days ago is outside the hour.
    markers = [a["text"] for a in temperature["layout"]["annotations"]]
    assert markers == ["maintenance"]
    events = at.dataframe[0].value
    assert list(events["kind"]) == ["maintenance", "failure"]
    assert list(events["note"]) == ["oiled", "seized"]


def test_longer_range_shows_older_readings_and_events(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m1")

    at.radio(key="machine_range").set_value("7 d").run()

    temperature = charts(at)[0]
    # 7 days come as 1-hour averages: the 2 h of readings fill 3 hours, with a min-max band.
    line, high, low = temperature["data"]
    assert len(line["y"]) == 3 and len(high["y"]) == 3 and len(low["y"]) == 3
    assert low["fill"] == "tonexty"
    assert all(lo <= avg <= hi for lo, avg, hi in zip(low["y"], line["y"], high["y"], strict=True))
    assert (min(low["y"]), max(high["y"])) == (47.25, 71.25)
    assert sorted(a["text"] for a in temperature["layout"]["annotations"]) == ["failure", "maintenance"]
    assert any("1-hour averages" in caption.value for caption in at.caption)


def test_picking_another_machine_updates_the_url_and_charts(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m1")

    at.selectbox(key="machine_pick").select("plant-a/paint/p1").run()

    assert at.query_params["machine"] == "plant-a/paint/p1"
    assert [c["layout"]["title"]["text"] for c in charts(at)] == ["humidity"]


def test_sensor_multiselect_limits_the_charts(dashboard_env: Seed) -> None:
    at = machine_page("plant-a/press/m1")

    at.multiselect(key=f"machine_sensors_{dashboard_env.ids['plant-a/press/m1']}").unselect(
        "temperature"
    ).run()

    assert [c["layout"]["title"]["text"] for c in charts(at)] == ["vibration"]


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
    line, high, low = found[RUL_TITLE]["data"]
    assert line["y"] == [30.0, 20.0, 12.0]
    assert high["y"] == [36.0, 26.0, 18.0] and low["y"] == [26.0, 16.0, 8.0] and low["fill"] == "tonexty"
    assert [a["text"] for a in found[RUL_TITLE]["layout"]["annotations"]] == ["maintenance"]
    assert sorted(s["y0"] for s in found[RUL_TITLE]["layout"]["shapes"] if s["type"] == "line" and
                  s.get("yref") != "paper") == [20, 50]  # fmt: skip
    drivers = found[DRIVERS_TITLE]["data"][0]
    assert drivers["y"] == ["vibration", "temperature"] and drivers["x"] == [2.25, 9.5]  # strongest on top
    # Active alerts of the hour (the one resolved a day ago is outside it), newest first.
    ids = health.alert_ids
    alerts = at.dataframe[0].value
    assert list(alerts["id"]) == [ids["low"], ids["stuck"]]
    assert list(alerts["state"]) == ["open", "acknowledged"]
    assert alerts["acknowledged"][1].endswith("dash-engineer")
    assert list(alerts["alert"]) == [f"alerts?alert={ids['low']}", f"alerts?alert={ids['stuck']}"]
    timeline = found[ALERTS_TITLE]["data"]
    assert [t["name"] for t in timeline] == [f"#{ids['low']} rul_low", f"#{ids['stuck']} sensor_stuck",
                                              "acknowledged"]  # fmt: skip
    assert list(at.dataframe[1].value["kind"]) == ["maintenance", "failure"]  # the events follow


def test_a_week_shows_every_prediction_and_the_resolved_alert(health: HealthSeed) -> None:
    at = machine_page("plant-a/press/m1")

    at.radio(key="machine_range").set_value("7 d").run()

    rul = all_charts(at)[RUL_TITLE]
    assert rul["data"][0]["y"] == [90.0, 30.0, 20.0, 12.0]
    assert sorted(a["text"] for a in rul["layout"]["annotations"]) == ["failure", "maintenance"]
    alerts = at.dataframe[0].value
    assert list(alerts["id"]) == [health.alert_ids[k] for k in ("low", "stuck", "old")]
    assert alerts["resolved"][2].endswith("system")


def test_a_shorter_range_shows_only_its_predictions(health: HealthSeed) -> None:
    at = machine_page("plant-a/press/m1")

    at.radio(key="machine_range").set_value("15 min").run()  # the latest prediction is 10 min old

    assert all_charts(at)[RUL_TITLE]["data"][0]["y"] == [12.0]
    # Opened 40 min ago but still active, the stuck alert belongs to these 15 minutes too.
    assert list(at.dataframe[0].value["id"]) == [health.alert_ids["low"], health.alert_ids["stuck"]]


def test_withheld_prediction_says_why(health: HealthSeed) -> None:
    at = machine_page("plant-b/assembly/a1")

    assert not at.exception
    assert any(w.value == f"Prediction withheld: {WITHHELD}." for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Health"] == "⚪ no prediction"
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
