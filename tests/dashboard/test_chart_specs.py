"""Every chart the dashboard draws is valid Vega-Lite and finds its data: each spec, with its named
datasets attached as the browser gets them (records), is checked against the Vega-Lite schema Altair
ships (`alt.Chart.from_dict` validates), and every field a layer encodes must be a column of the
dataset it names (or made by its transforms). Layouts are built apart from their data (and cached), so
a renamed column would otherwise draw an empty chart in the browser without any error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pandas as pd
import pytest

from dashboard.charts import curves_chart, p_chart, trend_chart
from dashboard.fleet_grid import grid_chart
from dashboard.health_charts import alert_timeline_chart, drivers_chart, rul_chart
from dashboard.ops_records import QualitySample
from dashboard.records import Alert, Driver, Event, Health, Machine, Point
from dashboard.vega import Spec

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
END = T0 + timedelta(hours=1)
EVENTS = [Event(id=1, kind="maintenance", ts=T0 + timedelta(minutes=20), note="bearing")]


def _as_browser_gets_it(spec: Spec) -> dict[str, Any]:
    datasets = {
        name: json.loads(frame.to_json(orient="records")) if isinstance(frame, pd.DataFrame) else frame
        for name, frame in (spec.get("datasets") or {}).items()
    }
    return {**spec, "datasets": datasets} if datasets else spec


def _charts() -> dict[str, Spec]:
    points = [
        Point(ts=T0 + timedelta(minutes=i), value=float(i), min=i - 1.0, max=i + 1.0, n=6) for i in range(30)
    ]
    history = [
        Health(machine_id=1, machine="s/l/m", status="ok", made_at=T0 + timedelta(minutes=10 * i),
               rul=80.0 - i, rul_low=70.0 - i, rul_high=90.0 - i, failure_probability=0.1)
        for i in range(5)
    ]  # fmt: skip
    alerts = [Alert(id=1, rule="rul_low", severity="warning", state="acknowledged", message="RUL 40", count=2,
                    machine="s/l/m", line="s/l", opened_at=T0 + timedelta(minutes=5),
                    acknowledged_at=T0 + timedelta(minutes=9), acknowledged_by="ana")]  # fmt: skip
    samples = [QualitySample(start=T0 + timedelta(hours=i), inspected=50, defective=i, rate=i / 50,
                             center=0.04, upper=0.12, lower=0.0, out_of_control=i > 5)
               for i in range(8)]  # fmt: skip
    machines = [Machine(id=1, path="s/l/m", site="s", line="l", name="m", last_seen_at=T0)]
    health = {1: history[-1]}
    return {
        "trend": trend_chart(
            points,
            sensor="temp",
            unit="°C",
            normal_min=5.0,
            normal_max=25.0,
            events=EVENTS,
            start=T0,
            end=END,
            tz=UTC,
            spread=True,
        ),
        "rul": rul_chart(history, events=EVENTS, start=T0, end=END, tz=UTC, warning=50.0, critical=None),
        "drivers": drivers_chart([Driver(sensor="vibration", score=12.0), Driver(sensor="temp", score=3.0)]),
        "alert timeline": alert_timeline_chart(alerts, start=T0, end=END, tz=UTC),
        "p-chart": p_chart(samples, title="Defect rate", tz=UTC),
        "curves": curves_chart({"loss": [3.0, 2.0, 1.5], "val_loss": [3.2, 2.4, 2.1]}, title="Training"),
        "health grid": grid_chart(machines, health, {"s/l/m": alerts}, T0, 300.0),
    }


@pytest.mark.parametrize("name", list(_charts()))
def test_the_chart_is_valid_vega_lite(name: str) -> None:
    alt.Chart.from_dict(_as_browser_gets_it(_charts()[name]))  # raises on a spec the schema refuses


def _fields(encoding: Any) -> set[str]:
    """Every `field` named in an encoding, its tooltips and conditions included."""
    if isinstance(encoding, dict):
        own = {encoding["field"]} if isinstance(encoding.get("field"), str) else set()
        return own.union(*(_fields(value) for value in encoding.values()))
    if isinstance(encoding, list):
        return set().union(*(_fields(item) for item in encoding))
    return set()


def _unknown_fields(spec: Spec) -> list[tuple[str, set[str]]]:
    """(dataset, fields) of each layer that encodes fields its data does not have."""
    browser = _as_browser_gets_it(spec)
    unknown = []
    for layer in browser["layer"]:
        dataset = (layer.get("data") or browser.get("data") or {})["name"]
        columns = set().union(*(row.keys() for row in browser["datasets"][dataset]))
        made = {name for step in layer.get("transform", []) for name in step.get("as", [])}
        if missing := _fields(layer["encoding"]) - columns - made:
            unknown.append((dataset, missing))
    return unknown


@pytest.mark.parametrize("name", list(_charts()))
def test_every_encoded_field_is_a_column_of_the_layers_data(name: str) -> None:
    assert _unknown_fields(_charts()[name]) == []


def test_a_renamed_column_is_caught() -> None:
    spec = _charts()["curves"]
    spec["datasets"]["curves"] = spec["datasets"]["curves"].rename(columns={"epoch": "step"})
    assert _unknown_fields(spec) == [("curves", {"epoch"})]


def test_a_broken_spec_is_refused() -> None:
    spec = _as_browser_gets_it(_charts()["drivers"])
    broken = {**spec, "layer": [{**spec["layer"][0], "mark": {"type": "bars"}}, *spec["layer"][1:]]}
    with pytest.raises(Exception, match=r"bars|mark"):
        alt.Chart.from_dict(broken)


def test_new_data_leaves_the_spec_alone_so_a_zoom_survives_a_refresh() -> None:
    def trend(points: int) -> Spec:
        readings = [Point(ts=T0 + timedelta(minutes=i), value=float(i)) for i in range(points)]
        return trend_chart(readings, sensor="temp", unit="°C", normal_min=5.0, normal_max=25.0, events=EVENTS,
                           start=T0, end=END, tz=UTC)  # fmt: skip

    before, after = trend(10), trend(11)
    assert len(before["datasets"]["points"]) == 10 and len(after["datasets"]["points"]) == 11
    assert {**before, "datasets": None} == {**after, "datasets": None}
    before["layer"].clear()  # what Streamlit does to one spec leaves the next one whole
    assert trend(10)["layer"]
