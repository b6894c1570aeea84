"""Building blocks of the pages' Vega-Lite charts (drawn by `st.vega_lite_chart`).

Vega-Lite rather than Plotly: Streamlit loads Plotly's 4.7 MB script into the browser before the first
Plotly chart of a session, Vega's 0.8 MB; on the Machine page that was most of its load time.

Times go to the browser as naive wall-clock times in the display time zone, as milliseconds on a UTC
time scale, so the browser's own zone never shifts them. Whatever changes from one refresh to the next
(points, events, the time window) lives in named datasets, not in the spec: a chart whose spec stays
the same gets new data without being drawn anew, so a zoom survives an auto-refresh.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

import pandas as pd

from dashboard.records import Event

Spec = dict[str, Any]

EVENT_COLOURS = {"failure": "#d62728", "maintenance": "#1f77b4"}
OTHER_EVENT = "#7f7f7f"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
HOUR_MINUTE = "utcFormat(datum.value, '%H:%M')"
TIME_LABEL = f"{HOUR_MINUTE} == '00:00' ? utcFormat(datum.value, '%d %b') : {HOUR_MINUTE}"
# Drag to pan, wheel to zoom the time axis; double-click resets it.
ZOOM = {"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"}


def wall_ms(ts: datetime, tz: tzinfo) -> int:
    """`ts` as the wall-clock time in `tz`, in milliseconds of a UTC time scale."""
    wall = ts.astimezone(tz).replace(tzinfo=UTC)
    return round(wall.timestamp() * 1000)


def time_x(title: str | None = None) -> dict[str, Any]:
    """The x encoding of a time field `t` (wall-clock milliseconds): 24-hour times, dates at midnight."""
    return {
        "field": "t",
        "type": "temporal",
        "title": title,
        "scale": {"type": "utc", "nice": False},
        "axis": {"labelExpr": TIME_LABEL},
    }


def time_tooltip(title: str = "time", fmt: str = TIME_FORMAT) -> dict[str, Any]:
    # A utc time unit makes Vega-Lite format the time as it is, not in the browser's zone.
    unit = "utcyearmonthdatehoursminutesseconds"
    return {"field": "t", "type": "temporal", "timeUnit": unit, "title": title, "format": fmt}


def window(start: datetime, end: datetime, tz: tzinfo) -> pd.DataFrame:
    """The dataset that spans the time axis from `start` to `end` (see `window_layer`)."""
    return pd.DataFrame({"t": [wall_ms(start, tz), wall_ms(end, tz)]})


def window_layer() -> Spec:
    """Invisible marks at the window's two ends: the time axis covers the whole range, data or not."""
    return {"data": {"name": "window"}, "mark": {"type": "point", "opacity": 0}, "encoding": {"x": time_x()}}


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


def colour_by(field: str, colours: dict[str, str], other: str) -> Spec:
    """A colour encoding of a nominal field: these values in these colours, any other in `other` (no
    legend). Conditions, not a scale: Vega-Lite's scales have no colour for values outside their domain."""
    return {
        "condition": [
            {"test": f"datum[{json.dumps(field)}] === {json.dumps(value)}", "value": colour}
            for value, colour in colours.items()
        ],
        "value": other,
    }


def event_layers() -> list[Spec]:
    """The `events` dataset as labelled vertical lines (failure red, maintenance blue)."""
    colour = colour_by("kind", EVENT_COLOURS, OTHER_EVENT)
    rule = {
        "data": {"name": "events"},
        "mark": {"type": "rule", "strokeWidth": 2, "strokeDash": [6, 4]},
        "encoding": {
            "x": time_x(),
            "color": colour,
            "tooltip": [time_tooltip(), {"field": "kind"}, {"field": "note"}],
        },
    }
    label = {
        "data": {"name": "events"},
        "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3, "dy": 2, "fontSize": 11},
        "encoding": {"x": time_x(), "y": {"value": 0}, "text": {"field": "kind"}, "color": colour},
    }
    return [rule, label]


def level_rule(y: float, colour: str, dash: Sequence[int] = (2, 2)) -> Spec:
    """A horizontal line across the chart at `y`."""
    return {
        "data": {"values": [{}]},
        "mark": {"type": "rule", "color": colour, "strokeWidth": 1, "strokeDash": list(dash)},
        "encoding": {"y": {"datum": y}},
    }


def chart(title: str, height: int, layers: list[Spec], datasets: dict[str, pd.DataFrame]) -> Spec:
    """A layered chart as wide as its column: its title, height (title and axes included), layers and
    named datasets."""
    return {
        "title": {"text": title, "anchor": "start", "fontSize": 14},
        "height": height,
        "datasets": datasets,
        "layer": layers,
    }


def rows_chart(title: str, row_px: int, layers: list[Spec], datasets: dict[str, pd.DataFrame]) -> Spec:
    """A layered chart with one row per value of its y field, each `row_px` high: it grows with them."""
    return {
        **chart(title, 0, layers, datasets),
        "height": {"step": row_px},
        "autosize": {"type": "fit-x", "contains": "padding"},  # only the width follows the column
    }
