"""The Machine page against a real API: trends, event markers, and logging an event."""

from __future__ import annotations

import json
from typing import Any

import httpx
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import ApiServer, Seed, app_test


def machine_page(machine: str | None) -> AppTest:
    at = app_test()
    if machine is not None:
        at.query_params["machine"] = machine
    at.run()
    return at.switch_page("views/machine.py").run()


def charts(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


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
