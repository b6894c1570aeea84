"""The Fleet page against a real API on a seeded database."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import Seed, app_test


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def tables(at: AppTest) -> list[pd.DataFrame]:
    return [table.value for table in at.dataframe]


def test_fleet_groups_machines_per_line_with_latest_values(dashboard_env: Seed) -> None:
    at = app_test().run()

    assert not at.exception
    assert [title.value for title in at.title] == ["Fleet"]
    assert metrics(at) == {"Machines": "4", "Reporting (last 5 min)": "3", "Silent": "1"}
    assert [h.value for h in at.header] == ["Site plant-a", "Site plant-b"]
    assert [s.value for s in at.subheader] == ["Line paint", "Line press", "Line assembly"]
    paint, press, assembly = tables(at)
    assert list(press["machine"]) == ["m1", "m2"]
    assert list(press.columns) == ["machine", "last seen", "temperature [°C]", "vibration", "details"]
    assert list(press["temperature [°C]"]) == [71.25, 55.5]
    assert press["vibration"][0] == 0.125 and pd.isna(press["vibration"][1])
    assert all(seen.endswith(" s ago") and "⚠" not in seen for seen in press["last seen"])
    assert list(paint["humidity"]) == [42.0]
    assert list(assembly["last seen"]) == ["⚠ 2 h ago"]
    assert list(press["details"]) == ["machine?machine=plant-a/press/m1", "machine?machine=plant-a/press/m2"]


def test_site_and_line_filters_narrow_the_tables_and_counts(dashboard_env: Seed) -> None:
    at = app_test().run()

    at.selectbox[0].select("plant-b").run()
    assert metrics(at) == {"Machines": "1", "Reporting (last 5 min)": "0", "Silent": "1"}
    assert [list(t["machine"]) for t in tables(at)] == [["a1"]]
    assert at.query_params["site"] == "plant-b"

    at.selectbox[0].select("plant-a").run()
    assert at.selectbox[1].options == ["All", "paint", "press"]
    at.selectbox[1].select("press").run()
    assert metrics(at)["Machines"] == "2"
    assert [list(t["machine"]) for t in tables(at)] == [["m1", "m2"]]
    assert at.query_params == {"site": "plant-a", "line": "press"}


def test_filters_are_read_from_a_shared_url(dashboard_env: Seed) -> None:
    at = app_test()
    at.query_params["site"] = "plant-a"
    at.query_params["line"] = "paint"
    at.run()

    assert at.selectbox[0].value == "plant-a" and at.selectbox[1].value == "paint"
    assert [list(t["machine"]) for t in tables(at)] == [["p1"]]


def test_open_goes_to_the_machine_page_with_the_machine_in_the_url(dashboard_env: Seed) -> None:
    at = app_test().run()

    at.selectbox(key="fleet_open_machine").select("plant-a/press/m2")
    at.button(key="fleet_open").click().run()

    assert not at.exception
    assert [title.value for title in at.title] == ["Machine"]
    assert at.query_params["machine"] == "plant-a/press/m2"
    assert at.selectbox(key="machine_pick").value == "plant-a/press/m2"
