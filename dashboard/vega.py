"""Building blocks of the pages' charts: Altair charts, drawn as Vega-Lite by `st.vega_lite_chart`.

Vega-Lite (through Altair) rather than Plotly: Streamlit loads Plotly's 4.7 MB script into the browser
before the first Plotly chart of a session, Vega's 0.8 MB; on the Machine page that was most of its
load time.

Whatever changes from one refresh to the next (points, events, the time window) lives in named
datasets that `with_data` attaches as data frames, not in the chart's layout: a chart whose spec stays
the same gets new data without being drawn anew, so a zoom survives an auto-refresh. (`st.altair_chart`
names each dataset by a hash of its content, so every new point would redraw the chart; inline records
would make Altair validate every row.) Layouts depend only on a few settings (a sensor's name and
range, thresholds, titles), so the chart modules cache them: Altair takes tens of milliseconds to
build and validate one.

Times go to the browser as naive wall-clock times in the display time zone, as milliseconds on a UTC
time scale, so the browser's own zone never shifts them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

import altair as alt
import pandas as pd

from dashboard.records import Event

Spec = dict[str, Any]

EVENT_COLOURS = {"failure": "#d62728", "maintenance": "#1f77b4"}
OTHER_EVENT = "#7f7f7f"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
HOUR_MINUTE = "utcFormat(datum.value, '%H:%M')"
TIME_LABEL = f"{HOUR_MINUTE} == '00:00' ? utcFormat(datum.value, '%d %b') : {HOUR_MINUTE}"
# Drag to pan, wheel to zoom the time axis; double-click resets it.
ZOOM = alt.selection_interval(name="zoom", encodings=["x"], bind="scales")


def wall_ms(ts: datetime, tz: tzinfo) -> int:
    """`ts` as the wall-clock time in `tz`, in milliseconds of a UTC time scale."""
    wall = ts.astimezone(tz).replace(tzinfo=UTC)
    return round(wall.timestamp() * 1000)


def named(dataset: str) -> alt.Chart:
    """A chart of the dataset `spec` attaches under this name."""
    return alt.Chart(alt.NamedData(name=dataset))


def time_x(title: str | None = None) -> alt.X:
    """The x encoding of a time field `t` (wall-clock milliseconds): 24-hour times, dates at midnight."""
    return alt.X(
        "t:T", title=title, scale=alt.Scale(type="utc", nice=False), axis=alt.Axis(labelExpr=TIME_LABEL)
    )


def time_tooltip(title: str = "time", fmt: str = TIME_FORMAT) -> alt.Tooltip:
    # A utc time unit makes Vega-Lite format the time as it is, not in the browser's zone.
    return alt.Tooltip("t:T", timeUnit="utcyearmonthdatehoursminutesseconds", title=title, format=fmt)


def window(start: datetime, end: datetime, tz: tzinfo) -> pd.DataFrame:
    """The dataset that spans the time axis from `start` to `end` (see `window_layer`)."""
    return pd.DataFrame({"t": [wall_ms(start, tz), wall_ms(end, tz)]})


def window_layer() -> alt.Chart:
    """Invisible marks at the window's two ends: the time axis covers the whole range, data or not."""
    return named("window").mark_point(opacity=0).encode(x=time_x())


def events_in(events: Sequence[Event], start: datetime, end: datetime, tz: tzinfo) -> pd.DataFrame:
    """The events of [start, end], for `event_layers`."""
    shown = [e for e in events if start <= e.ts <= end]
    return pd.DataFrame(
        {
            "t": [wall_ms(e.ts, tz) for e in shown],
            "kind": [e.kind for e in shown],
            "note": [e.note or e.kind for e in shown],
        },
        columns=["t", "kind", "note"],
    )


def colour_by(field: str, colours: Mapping[str, str], other: str) -> Any:
    """A colour of a nominal field: these values in these colours, any other in `other` (no legend).
    Conditions, not a scale: Vega-Lite's scales have no colour for values outside their domain."""
    (first, first_colour), *rest = colours.items()
    chosen = alt.when(alt.datum[field] == first).then(alt.value(first_colour))
    for value, colour in rest:
        chosen = chosen.when(alt.datum[field] == value).then(alt.value(colour))
    return chosen.otherwise(alt.value(other))


def event_layers() -> list[alt.Chart]:
    """The `events` dataset as labelled vertical lines (failure red, maintenance blue)."""
    colour = colour_by("kind", EVENT_COLOURS, OTHER_EVENT)
    rule = (
        named("events")
        .mark_rule(strokeWidth=2, strokeDash=[6, 4])
        .encode(x=time_x(), color=colour, tooltip=[time_tooltip(), "kind:N", "note:N"])
    )
    label = (
        named("events")
        .mark_text(align="left", baseline="top", dx=3, dy=2, fontSize=11)
        .encode(x=time_x(), y=alt.value(0), text="kind:N", color=colour)
    )
    return [rule, label]


def level_rule(y: float, colour: str, dash: Sequence[int] = (2, 2)) -> alt.Chart:
    """A horizontal line across the chart at `y`."""
    return (
        one_row(level=y).mark_rule(color=colour, strokeWidth=1, strokeDash=list(dash)).encode(y=alt.datum(y))
    )


def one_row(**fields: float) -> alt.Chart:
    """A chart of one row of data, for marks placed by `datum`. The row has a column: Streamlit sends
    data as Arrow, where a row without columns is no row at all."""
    return alt.Chart(alt.InlineData(values=[fields]))


def with_data(layout: Spec, datasets: Mapping[str, pd.DataFrame]) -> Spec:
    """A copy of `layout` (from `chart` or `rows_chart`, often cached) with `datasets` attached under
    their names, for `st.vega_lite_chart`."""
    built = copy.deepcopy(layout)
    built["datasets"] = {**built.get("datasets", {}), **datasets}
    return built


def chart(title: str, height: int, layers: Sequence[alt.Chart]) -> Spec:
    """The spec of a layered chart as wide as its column: its title, height (title and axes included)
    and layers, without its named datasets (`with_data` adds them)."""
    return _spec(_layered(title, layers).properties(height=height))


def rows_chart(title: str, row_px: int, layers: Sequence[alt.Chart], *, column_px: int | None = None) -> Spec:
    """The spec of a layered chart with one row per value of its y field, each `row_px` high: it grows
    with them. Only the width follows the column, unless `column_px` fixes the width of each x value."""
    layered = _layered(title, layers).properties(height=alt.Step(row_px))
    if column_px is None:
        layered = layered.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    else:
        layered = layered.properties(width=alt.Step(column_px))
    return _spec(layered)


def _layered(title: str, layers: Sequence[alt.Chart]) -> alt.LayerChart | alt.FacetChart:
    return alt.layer(*layers).properties(title=alt.TitleParams(title, anchor="start", fontSize=14))


def _spec(chart: alt.LayerChart | alt.FacetChart) -> Spec:
    """The Vega-Lite spec of `chart`, validated by Altair, without Altair's default theme (Streamlit's
    applies). Building one takes tens of milliseconds, so the chart modules cache their layouts."""
    built = chart.to_dict()
    built.pop("config", None)
    return built
