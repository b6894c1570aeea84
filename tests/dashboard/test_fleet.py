"""The Fleet page against a real API on a seeded database: the health grid, filters, click-through."""

from __future__ import annotations

from urllib.parse import parse_qs

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from dashboard.client import PlantwatchClient
from dashboard.fleet_grid import HEALTH_COLUMNS, Thresholds, band
from dashboard.records import Health
from tests.dashboard.conftest import ApiServer, Seed, app_test
from tests.dashboard.health_seed import WITHHELD, HealthSeed, seed_health

NOT_SCORED = "not scored yet: the score_machines job scores every machine every few minutes"
LIMITS = Thresholds(rul_warning=50, rul_critical=20, probability_warning=0.5, probability_critical=0.8)


@pytest.fixture
def health(dashboard_env: Seed, session_factory: sessionmaker[Session]) -> HealthSeed:
    return seed_health(dashboard_env, session_factory)


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def tables(at: AppTest) -> list[pd.DataFrame]:
    return [table.value for table in at.dataframe]


def test_fleet_groups_machines_per_line_with_latest_values(dashboard_env: Seed) -> None:
    at = app_test().run()

    assert not at.exception
    assert [title.value for title in at.title] == ["Fleet"]
    assert metrics(at) == {"Machines": "4", "🔴 critical": "0", "🟠 warning": "0", "🟢 ok": "0",
                           "⚪ no prediction": "4", "Open alerts": "0", "Silent (> 5 min)": "1"}  # fmt: skip
    assert [h.value for h in at.header] == ["Site plant-a", "Site plant-b"]
    assert [s.value for s in at.subheader] == ["Line paint", "Line press", "Line assembly"]
    paint, press, assembly = tables(at)
    assert list(press["machine"]) == ["m1", "m2"]
    assert list(press.columns) == [*HEALTH_COLUMNS, "temperature [°C]", "vibration"]
    assert HEALTH_COLUMNS == ["machine", "health", "RUL", "RUL interval", "P(failure)", "open alerts",
                              "last seen", "details", "why"]  # fmt: skip
    # Nothing scored yet: every machine grey, saying why.
    assert list(press["health"]) == ["⚪ no prediction"] * 2 and list(press["why"]) == [NOT_SCORED] * 2
    assert list(press["open alerts"]) == [0, 0]
    assert list(press["temperature [°C]"]) == [71.25, 55.5]
    assert press["vibration"][0] == 0.125 and pd.isna(press["vibration"][1])
    assert all(seen.endswith(" s ago") and "⚠" not in seen for seen in press["last seen"])
    assert list(paint["humidity"]) == [42.0]
    assert list(assembly["last seen"]) == ["⚠ 2 h ago"]
    assert list(press["details"]) == ["machine?machine=plant-a/press/m1", "machine?machine=plant-a/press/m2"]


def test_site_and_line_filters_narrow_the_tables_and_counts(dashboard_env: Seed) -> None:
    at = app_test().run()

    at.selectbox[0].select("plant-b").run()
    assert metrics(at)["Machines"] == "1" and metrics(at)["Silent (> 5 min)"] == "1"
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

    at.selectbox(key="fleet_open_machine").select("plant-a/press/m2").run()
    (link,) = at.get("page_link")
    assert (link.proto.label, link.proto.page) == ("Open", "machine")
    assert parse_qs(link.proto.query_string) == {"machine": ["plant-a/press/m2"]}
    at.query_params["machine"] = "plant-a/press/m2"  # following the link, as the browser does
    at.switch_page("views/machine.py").run()

    assert not at.exception
    assert [title.value for title in at.title] == ["Machine"]
    assert at.query_params["machine"] == "plant-a/press/m2"
    assert at.selectbox(key="machine_pick").value == "plant-a/press/m2"


def test_grid_colours_machines_by_predicted_rul_and_failure_probability(health: HealthSeed) -> None:
    at = app_test().run()

    assert not at.exception
    assert metrics(at) == {"Machines": "4", "🔴 critical": "1", "🟠 warning": "1", "🟢 ok": "1",
                           "⚪ no prediction": "1", "Open alerts": "3", "Silent (> 5 min)": "1"}  # fmt: skip
    paint, press, assembly = tables(at)
    assert list(press["health"]) == ["🔴 critical", "🟠 warning"]  # RUL 12 ≤ 20; P(failure) 0.6 ≥ 0.5
    assert list(press["RUL"]) == [12.0, 80.0] and list(press["RUL interval"]) == ["8-18", "60-95"]
    assert list(press["P(failure)"]) == [0.3, 0.6]
    assert list(press["open alerts"]) == [2, 0]  # m2's alert was resolved
    assert list(press["why"]) == ["", ""]
    assert list(paint["health"]) == ["🟢 ok"] and list(paint["open alerts"]) == [1]
    assert list(assembly["health"]) == ["⚪ no prediction"] and list(assembly["why"]) == [WITHHELD]
    assert pd.isna(assembly["RUL"][0]) and list(assembly["details"]) == [
        "machine?machine=plant-b/assembly/a1"
    ]
    assert any("RUL ≤ 20 or P(failure) ≥ 80%" in caption.value for caption in at.caption)


def test_grid_counts_follow_the_filters(health: HealthSeed) -> None:
    at = app_test()
    at.query_params["site"] = "plant-a"
    at.query_params["line"] = "press"
    at.run()

    counts = metrics(at)
    assert (counts["Machines"], counts["🔴 critical"], counts["🟠 warning"], counts["🟢 ok"]) == (
        "2",
        "1",
        "1",
        "0",
    )
    assert counts["Open alerts"] == "2"


@pytest.mark.parametrize(
    ("status", "rul", "probability", "expected"),
    [("ok", 20.0, 0.1, "critical"), ("ok", 20.5, 0.1, "warning"), ("ok", 50.0, None, "warning"),
     ("ok", 50.5, 0.49, "ok"), ("ok", 200.0, 0.8, "critical"), ("degraded", None, 0.5, "warning"),
     ("ok", None, None, "none"), ("withheld", 5.0, 0.9, "none"), ("pending", None, None, "none")],
)  # fmt: skip
def test_band_thresholds(status: str, rul: float | None, probability: float | None, expected: str) -> None:
    found = Health(machine_id=1, machine="s/l/m", status=status, rul=rul, failure_probability=probability)
    assert band(found, LIMITS) == expected
    assert band(None, LIMITS) == "none"


def test_fleet_health_follows_the_cursor(
    dashboard_env: Seed, health: HealthSeed, api_server: ApiServer
) -> None:
    client = PlantwatchClient(api_server.url, dashboard_env.viewer_key)
    found = client.fleet_health(page_size=3)

    assert sorted(h.machine for h in found) == ["plant-a/paint/p1", "plant-a/press/m1", "plant-a/press/m2",
                                                "plant-b/assembly/a1"]  # fmt: skip
    assert {h.machine: h.status for h in found}["plant-b/assembly/a1"] == "withheld"
    m1 = next(h for h in found if h.machine == "plant-a/press/m1")
    assert [(d.sensor, d.score) for d in m1.top_sensors] == [("temperature", 9.5), ("vibration", 2.25)]
