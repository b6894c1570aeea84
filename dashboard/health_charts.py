"""Vega-Lite charts of the Machine page's health (see dashboard.vega): predicted RUL over time with its
interval and the events marked, the sensors driving the current prediction, and the machine's alerts
as a timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

import pandas as pd

from dashboard.records import Alert, Driver, Event, Health
from dashboard.vega import (
    ZOOM,
    Spec,
    chart,
    colour_by,
    event_layers,
    events_in,
    level_rule,
    rows_chart,
    time_tooltip,
    time_x,
    wall_ms,
    window,
    window_layer,
)

RUL_TITLE = "Predicted RUL"
DRIVERS_TITLE = "Sensors driving the current prediction"
ALERTS_TITLE = "Alerts"
INTERVAL_COLOUR = "#9467bd"
RUL_COLOUR = "#9467bd"
SEVERITY_COLOURS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
OK_COLOUR = "#2ca02c"


def rul_chart(
    history: Sequence[Health],
    *,
    events: Sequence[Event],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    warning: float | None,
    critical: float | None,
) -> Spec:
    """RUL per prediction (oldest first) as a line, [rul_low, rul_high] as a band around it, the alert
    thresholds as dotted lines (None: that level is not set or the rule is off), and failures and
    maintenance as vertical markers."""
    scored = [h for h in history if h.rul is not None and h.made_at is not None]
    data = pd.DataFrame(
        {
            "t": [wall_ms(h.made_at, tz) for h in scored if h.made_at is not None],
            "rul": [h.rul for h in scored],
            "low": [h.rul_low for h in scored],
            "high": [h.rul_high for h in scored],
            "interval": [
                f"{h.rul_low:.0f}-{h.rul_high:.0f}"
                if h.rul_low is not None and h.rul_high is not None
                else ""
                for h in scored
            ],
            "P(failure)": [h.failure_probability for h in scored],
            "status": [h.status for h in scored],
        }
    )
    band = {
        "data": {"name": "predictions"},
        "transform": [{"filter": "isValid(datum.low) && isValid(datum.high)"}],
        "mark": {"type": "area", "color": INTERVAL_COLOUR, "opacity": 0.2},
        "encoding": {"x": time_x(), "y": {"field": "low", "type": "quantitative"}, "y2": {"field": "high"}},
    }
    line = {
        "data": {"name": "predictions"},
        "mark": {
            "type": "line",
            "color": RUL_COLOUR,
            "strokeWidth": 2,
            "point": {"color": RUL_COLOUR, "size": 20},
        },
        "encoding": {
            "x": time_x(),
            "y": {"field": "rul", "type": "quantitative", "title": "cycles", "scale": {"zero": True}},
            "tooltip": [
                time_tooltip(fmt="%Y-%m-%d %H:%M"),
                {"field": "rul", "type": "quantitative", "title": "RUL", "format": ".0f"},
                {"field": "interval"},
                {"field": "P(failure)", "type": "quantitative", "format": ".0%"},
                {"field": "status"},
            ],
        },
        "params": [ZOOM],
    }
    thresholds = [
        level_rule(level, SEVERITY_COLOURS[name])
        for name, level in (("warning", warning), ("critical", critical))
        if level is not None
    ]
    layers: list[Spec] = [band, line, *thresholds, *event_layers(), window_layer()]
    datasets = {
        "predictions": data,
        "events": events_in(events, start, end, tz),
        "window": window(start, end, tz),
    }
    return chart(RUL_TITLE, 240, layers, datasets)


def drivers_chart(drivers: Sequence[Driver]) -> Spec:
    """Horizontal bars, the strongest driver on top: cycles of RUL each sensor takes away (or adds)."""
    data = pd.DataFrame({"sensor": [d.sensor for d in drivers], "score": [d.score for d in drivers]})
    bars = {
        "data": {"name": "drivers"},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "sensor", "type": "nominal", "title": None, "sort": "-x"},
            "x": {"field": "score", "type": "quantitative", "title": "cycles of RUL taken away"},
            "color": {
                "condition": {"test": "datum.score > 0", "value": SEVERITY_COLOURS["critical"]},
                "value": OK_COLOUR,
            },
            "tooltip": [
                {"field": "sensor"},
                {"field": "score", "type": "quantitative", "title": "cycles", "format": ".1f"},
            ],
        },
    }
    return rows_chart(DRIVERS_TITLE, 26, [bars], {"drivers": data})


def alert_timeline_chart(alerts: Sequence[Alert], *, start: datetime, end: datetime, tz: tzinfo) -> Spec:
    """One row per alert: a bar from when it opened to when it was resolved (or now), coloured by
    severity, with a diamond where it was acknowledged. Rows are the alerts' labels, in the given order
    (newest first) from the top."""
    labels = [f"#{a.id} {a.rule}" for a in alerts]
    bars = pd.DataFrame(
        {
            "label": labels,
            "t": [wall_ms(max(a.opened_at, start), tz) for a in alerts],
            "until": [wall_ms(min(a.resolved_at or end, end), tz) for a in alerts],
            "severity": [a.severity for a in alerts],
            "state": [a.state for a in alerts],
            "message": [a.message for a in alerts],
        }
    )
    acknowledged = [(a, label) for a, label in zip(alerts, labels, strict=True)
                    if a.acknowledged_at is not None and start <= a.acknowledged_at <= end]  # fmt: skip
    acks = pd.DataFrame(
        {
            "label": [label for _, label in acknowledged],
            "t": [wall_ms(a.acknowledged_at, tz) for a, _ in acknowledged if a.acknowledged_at is not None],
            "by": [a.acknowledged_by or "?" for a, _ in acknowledged],
        },
        columns=["label", "t", "by"],
    )
    y = {"field": "label", "type": "nominal", "title": None, "sort": labels}
    severity = colour_by("severity", SEVERITY_COLOURS, "#7f7f7f")
    bar = {
        "data": {"name": "alerts"},
        "mark": {"type": "bar", "height": 10},
        "encoding": {
            "x": time_x(),
            "x2": {"field": "until"},
            "y": y,
            "color": severity,
            "tooltip": [
                {"field": "label", "title": "alert"},
                {"field": "severity"},
                {"field": "state"},
                {"field": "message"},
            ],
        },
    }
    ack = {
        "data": {"name": "acknowledged"},
        "mark": {
            "type": "point",
            "shape": "diamond",
            "size": 110,
            "filled": True,
            "color": "#333333",
            "opacity": 1,
        },
        "encoding": {
            "x": time_x(),
            "y": y,
            "tooltip": [time_tooltip("acknowledged", "%Y-%m-%d %H:%M"), {"field": "by", "title": "by"}],
        },
    }
    datasets = {"alerts": bars, "acknowledged": acks, "window": window(start, end, tz)}
    return rows_chart(ALERTS_TITLE, 24, [bar, ack, window_layer()], datasets)
