"""The Fleet page against a real API on a seeded database: the health grid, filters, click-through."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from dashboard import session as session_state
from dashboard.client import PlantwatchClient
from dashboard.fleet_grid import HEALTH_COLUMNS, band, grid_chart, open_alerts_by_machine
from dashboard.records import Alert, Health, Machine
from db.engine import transaction
from services import alert_rules, alerts
from services.alert_rules import Thresholds
from tests.dashboard.conftest import ApiServer, Seed, app_test
from tests.dashboard.health_seed import WITHHELD, HealthSeed, seed_health

NOT_SCORED = "not scored yet: the score_machines job scores every machine every few minutes"


@pytest.fixture
def health(dashboard_env: Seed, session_factory: sessionmaker[Session]) -> HealthSeed:
    return seed_health(dashboard_env, session_factory)


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def tables(at: AppTest) -> list[pd.DataFrame]:
    return [table.value for table in at.dataframe]


def test_fleet_shows_every_machine_in_one_table_with_its_line(dashboard_env: Seed) -> None:
    at = app_test().run()

    assert not at.exception
    assert [title.value for title in at.title] == ["Fleet"]
    assert metrics(at) == {"Machines": "4", "🔴 critical": "0", "🟠 warning": "0", "🟢 ok": "0",
                           "⚪ no prediction": "4", "Open alerts": "0", "Silent (> 5 min)": "1"}  # fmt: skip
    assert [s.value for s in at.subheader] == ["4 machines on 3 lines, most urgent first"]
    (fleet,) = tables(at)
    assert list(fleet.columns) == ["line", *HEALTH_COLUMNS]
    assert HEALTH_COLUMNS == ["machine", "health", "RUL", "RUL interval", "P(failure)", "open alerts",
                              "last seen", "details", "why"]  # fmt: skip
    # Nothing scored yet: every machine grey, saying why, in line order.
    assert list(zip(fleet["line"], fleet["machine"], strict=True)) == [
        ("plant-a/paint", "p1"), ("plant-a/press", "m1"), ("plant-a/press", "m2"), ("plant-b/assembly", "a1")
    ]  # fmt: skip
    assert set(fleet["health"]) == {"⚪ no prediction"} and set(fleet["why"]) == {NOT_SCORED}
    assert list(fleet["open alerts"]) == [0, 0, 0, 0]
    assert list(fleet["last seen"])[3] == "⚠ 2 h ago"
    assert list(fleet["details"])[1:3] == [
        "machine?machine=plant-a/press/m1",
        "machine?machine=plant-a/press/m2",
    ]


def test_one_line_shows_the_latest_value_of_each_sensor(dashboard_env: Seed) -> None:
    at = app_test()
    at.query_params["site"] = "plant-a"
    at.query_params["line"] = "press"
    at.run()

    assert [s.value for s in at.subheader] == ["Line press · site plant-a"]
    (press,) = tables(at)
    assert list(press["machine"]) == ["m1", "m2"]
    assert list(press.columns) == [*HEALTH_COLUMNS, "temperature [°C]", "vibration"]
    assert list(press["temperature [°C]"]) == [71.25, 55.5]
    assert press["vibration"][0] == 0.125 and pd.isna(press["vibration"][1])
    assert all(seen.endswith(" s ago") and "⚠" not in seen for seen in press["last seen"])
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
    (fleet,) = tables(at)
    # The most urgent first: m1 (RUL 12 ≤ 20), m2 (P(failure) 0.6 ≥ 0.5), p1, then a1 (withheld).
    assert list(fleet["machine"]) == ["m1", "m2", "p1", "a1"]
    assert list(fleet["health"]) == ["🔴 critical", "🟠 warning", "🟢 ok", "⚪ no prediction"]
    assert list(fleet["RUL"])[:2] == [12.0, 80.0] and list(fleet["RUL interval"])[:2] == ["8-18", "60-95"]
    assert list(fleet["P(failure)"])[:2] == [0.3, 0.6]
    assert list(fleet["open alerts"]) == [2, 0, 1, 0]  # m2's alert was resolved
    # Why each needs attention: its active alerts (most severe first), else the prediction's figures.
    assert list(fleet["why"]) == ["predicted RUL 12; stuck: vibration", "warning: RUL 80, P(failure) 60%",
                                  "stuck: humidity", WITHHELD]  # fmt: skip
    assert pd.isna(fleet["RUL"][3]) and fleet["details"][3] == "machine?machine=plant-b/assembly/a1"
    legend = next(caption.value for caption in at.caption if "RUL ≤ 20 or P(failure) ≥ 80%" in caption.value)
    assert "the dashboard's defaults" not in legend  # the API said which thresholds apply


def test_the_legend_follows_a_plant_wide_override(
    health: HealthSeed, dashboard_env: Seed, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        plant = Thresholds(True, 60.0, 30.0, 0.0, 0, "test")
        alert_rules.set_override(session, "rul_low", None, None, plant, "test", dashboard_env.now)

    at = app_test().run()

    legend = next(caption.value for caption in at.caption if "plant-wide" in caption.value)
    assert "🔴 critical: RUL ≤ 30 or P(failure) ≥ 80%" in legend
    assert "🟠 warning: RUL ≤ 60 or P(failure) ≥ 50%, plant-wide;" in legend
    assert metrics(at)["🟠 warning"] == "1"  # m1 (RUL 12) critical; m2 warning; p1 (RUL 150) ok


def test_a_refresh_shows_what_changed_since(
    health: HealthSeed, dashboard_env: Seed, session_factory: sessionmaker[Session]
) -> None:
    at = app_test().run()
    assert metrics(at)["Open alerts"] == "3"
    with transaction(session_factory) as session:
        m2 = dashboard_env.ids["plant-a/press/m2"]
        alerts.raise_or_update(
            session, m2, "sensor_stuck", "warning", "stuck: temperature", dashboard_env.now
        )

    time.sleep(session_state.CACHE_TTL_S + 0.5)  # what the page read is kept this long
    at.run()  # what each auto-refresh does (PLANTWATCH_DASHBOARD_REFRESH_S)

    assert metrics(at)["Open alerts"] == "4"
    (fleet,) = tables(at)
    assert dict(zip(fleet["machine"], fleet["why"], strict=True))["m2"] == "stuck: temperature"


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
    ("status", "severity", "expected"),
    [("ok", "critical", "critical"), ("degraded", "warning", "warning"), ("ok", "ok", "ok"),
     ("ok", None, "none"), ("withheld", "critical", "none"), ("pending", None, "none")],
)  # fmt: skip
def test_the_band_is_the_apis_rating(status: str, severity: str | None, expected: str) -> None:
    found = Health(machine_id=1, machine="s/l/m", status=status, severity=severity, rul=10.0)
    assert band(found) == expected
    assert band(None) == "none"


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


def test_the_health_grid_has_a_square_per_machine_on_its_lines_row_linking_to_it() -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    machines = [
        Machine(id=i, path=f"s/{line}/{name}", site="s", line=line, name=name, last_seen_at=now)
        for i, (line, name) in enumerate([("b", "m2"), ("a", "x"), ("b", "m1")], start=1)
    ]
    health = {1: Health(machine_id=1, machine="s/b/m2", status="ok", severity="critical", rul=12.4),
              3: Health(machine_id=3, machine="s/b/m1", status="ok", severity="ok", rul=90.0)}  # fmt: skip
    alerts = [Alert(id=i, rule="rul_low", severity="critical", state="open", message="low", count=1,
                    machine="s/b/m2", line="s/b", opened_at=now) for i in (1, 2)]  # fmt: skip
    spec = grid_chart(machines, health, open_alerts_by_machine(alerts), now, 300.0)
    cells = spec["datasets"]["cells"]
    assert list(zip(cells["line"], cells["slot"], cells["machine"], cells["band"], strict=True)) == [
        ("s/a", 0, "x", "none"), ("s/b", 0, "m1", "ok"), ("s/b", 1, "m2", "critical")
    ]  # fmt: skip
    assert list(cells["url"]) == ["machine?machine=s/a/x", "machine?machine=s/b/m1", "machine?machine=s/b/m2"]
    assert list(cells["open alerts"]) == [0, 0, 2] and cells["RUL"][2] == 12
    assert spec["width"] == {"step": 22}  # a few machines: squares, not bars across the page
    (layer,) = spec["layer"]
    assert layer["encoding"]["href"]["field"] == "url"
    tests = [condition["test"] for condition in layer["encoding"]["color"]["condition"]]
    assert tests == [f"(datum['band'] === '{name}')" for name in ("critical", "warning", "ok", "none")]


def test_open_alerts_per_machine_most_severe_then_newest_first() -> None:
    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def alert(
        id_: int, severity: str, minutes: int, machine: str | None = "s/l/m", state: str = "open"
    ) -> Alert:
        return Alert(id=id_, rule="r", severity=severity, state=state, message=f"#{id_}", count=1,
                     machine=machine, line="s/l", opened_at=t0 + timedelta(minutes=minutes))  # fmt: skip

    resolved, on_the_line = alert(4, "critical", 1, state="resolved"), alert(5, "critical", 2, machine=None)
    found = open_alerts_by_machine(
        [alert(1, "warning", 5), alert(2, "critical", 0), alert(3, "warning", 9), resolved, on_the_line]
    )
    assert {path: [a.id for a in listed] for path, listed in found.items()} == {"s/l/m": [2, 3, 1]}
