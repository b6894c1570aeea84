"""Vega-Lite charts shared by the pages (see dashboard.vega): a sensor trend with its normal band and
event markers, a p-chart of defect rates with control limits, and training curves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

import pandas as pd

from dashboard.ops_records import QualitySample
from dashboard.records import Event, Point
from dashboard.vega import (
    ZOOM,
    Spec,
    chart,
    event_layers,
    events_in,
    level_rule,
    time_tooltip,
    time_x,
    wall_ms,
    window,
    window_layer,
)

LINE_COLOUR = "#1f77b4"
BAND_COLOUR = "#2ca02c"
SPREAD_COLOUR = "#1f77b4"
OUT_OF_CONTROL = "#d62728"
LIMITS = {"defect rate": (LINE_COLOUR, [1, 0]), "centre": ("#2ca02c", [1, 0]),
          "upper limit": (OUT_OF_CONTROL, [6, 3]), "lower limit": (OUT_OF_CONTROL, [2, 2])}  # fmt: skip


def trend_chart(
    points: Sequence[Point],
    *,
    sensor: str,
    unit: str | None,
    normal_min: float | None,
    normal_max: float | None,
    events: Sequence[Event],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    spread: bool = False,
) -> Spec:
    """One sensor over [start, end]: its line, the normal range as a band, events as vertical lines;
    `spread` (bucket averages): each bucket's min to max shaded around the line."""
    data = pd.DataFrame(
        {
            "t": [wall_ms(p.ts, tz) for p in points],
            "value": [p.value for p in points],
            "min": [p.min for p in points],
            "max": [p.max for p in points],
        }
    )
    layers: list[Spec] = []
    if normal_min is not None and normal_max is not None:
        layers.append(
            {
                "data": {"values": [{}]},
                "mark": {"type": "rect", "color": BAND_COLOUR, "opacity": 0.12},
                "encoding": {"y": {"datum": normal_min}, "y2": {"datum": normal_max}},
                "name": "normal range",
            }
        )
    layers += [level_rule(bound, BAND_COLOUR) for bound in (normal_min, normal_max) if bound is not None]
    if spread:
        layers.append(
            {
                "data": {"name": "points"},
                "mark": {"type": "area", "color": SPREAD_COLOUR, "opacity": 0.2},
                "encoding": {
                    "x": time_x(),
                    "y": {"field": "min", "type": "quantitative"},
                    "y2": {"field": "max"},
                },
            }
        )
    suffix = f" {unit}" if unit else ""
    layers.append(
        {
            "data": {"name": "points"},
            "mark": {"type": "line", "color": LINE_COLOUR, "strokeWidth": 1.5},
            "encoding": {
                "x": time_x(),
                "y": {
                    "field": "value",
                    "type": "quantitative",
                    "title": unit or None,
                    "scale": {"zero": False},
                },
                "tooltip": [
                    time_tooltip(),
                    {"field": "value", "type": "quantitative", "title": sensor + suffix, "format": ".4g"},
                ],
            },
            "params": [ZOOM],
        }
    )
    layers += [*event_layers(), window_layer()]
    datasets = {"points": data, "events": events_in(events, start, end, tz), "window": window(start, end, tz)}
    return chart(f"{sensor} [{unit}]" if unit else sensor, 240, layers, datasets)


def p_chart(samples: Sequence[QualitySample], *, title: str, tz: tzinfo) -> Spec:
    """Defect rate per sample with its centre line and control limits (steps: each sample has its
    own limits); samples above the upper limit in red."""
    data = pd.DataFrame(
        {
            "t": [wall_ms(s.start, tz) for s in samples],
            "defect rate": [s.rate for s in samples],
            "centre": [s.center for s in samples],
            "upper limit": [s.upper for s in samples],
            "lower limit": [s.lower for s in samples],
            "defective": [s.defective for s in samples],
            "inspected": [s.inspected for s in samples],
            "out of control": [s.out_of_control for s in samples],
        }
    )
    colours = {"domain": list(LIMITS), "range": [colour for colour, _ in LIMITS.values()]}
    dashes = {"domain": list(LIMITS), "range": [dash for _, dash in LIMITS.values()]}
    legend = {"orient": "bottom", "title": None}
    x, y = (
        time_x(),
        {"field": "value", "type": "quantitative", "title": "defect rate", "axis": {"format": ".0%"}},
    )
    limits = {
        "data": {"name": "samples"},
        "transform": [{"fold": list(LIMITS)[1:], "as": ["series", "value"]}],
        "mark": {"type": "line", "interpolate": "step", "strokeWidth": 1},
        "encoding": {
            "x": x,
            "y": y,
            "color": {"field": "series", "type": "nominal", "scale": colours, "legend": legend},
            "strokeDash": {"field": "series", "type": "nominal", "scale": dashes, "legend": None},
        },
    }
    rate = {
        "data": {"name": "samples"},
        "mark": {"type": "line", "strokeWidth": 1.5},
        "encoding": {
            "x": x,
            "y": {**y, "field": "defect rate"},
            # Its legend entry comes from the limits' legend, whose colour scale names all four lines.
            "color": {"value": LIMITS["defect rate"][0]},
        },
    }
    markers = {
        "data": {"name": "samples"},
        "mark": {"type": "point", "filled": True, "size": 50, "opacity": 1},
        "encoding": {
            "x": x,
            "y": {"field": "defect rate", "type": "quantitative"},
            "color": {
                "condition": {"test": "datum['out of control']", "value": OUT_OF_CONTROL},
                "value": LINE_COLOUR,
            },
            "tooltip": [
                time_tooltip(fmt="%Y-%m-%d %H:%M"),
                {"field": "defect rate", "type": "quantitative", "format": ".1%"},
                {"field": "defective", "type": "quantitative"},
                {"field": "inspected", "type": "quantitative"},
                {"field": "upper limit", "type": "quantitative", "format": ".1%"},
            ],
        },
    }
    return chart(title, 320, [limits, rate, markers], {"samples": data})


def curves_chart(curves: dict[str, list[float]], *, title: str) -> Spec:
    """Training curves: one line per recorded series, against the epoch."""
    data = pd.DataFrame(
        [
            {"epoch": epoch, "series": name, "value": value}
            for name, values in curves.items()
            for epoch, value in enumerate(values, 1)
        ],
        columns=["epoch", "series", "value"],
    )
    line = {
        "data": {"name": "curves"},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "epoch", "type": "quantitative", "axis": {"tickMinStep": 1}},
            "y": {"field": "value", "type": "quantitative", "title": None, "scale": {"zero": False}},
            "color": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "legend": {"orient": "bottom"},
                "sort": list(curves),
            },
            "tooltip": [{"field": "series"}, {"field": "epoch"}, {"field": "value", "format": ".4g"}],
        },
    }
    return chart(title, 300, [line], {"curves": data})
