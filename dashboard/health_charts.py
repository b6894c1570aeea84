"""Charts of the Machine page's health (built with Altair, see dashboard.vega): predicted RUL over
time with its interval and the events marked, the sensors driving the current prediction, and the
machine's alerts as a timeline."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, tzinfo

import altair as alt
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
    named,
    rows_chart,
    time_tooltip,
    time_x,
    wall_ms,
    window,
    window_layer,
    with_data,
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
    datasets = {
        "predictions": data,
        "events": events_in(events, start, end, tz),
        "window": window(start, end, tz),
    }
    return with_data(_rul_layout(warning, critical), datasets)


@functools.lru_cache(maxsize=64)
def _rul_layout(warning: float | None, critical: float | None) -> Spec:
    band = (
        named("predictions")
        .transform_filter("isValid(datum.low) && isValid(datum.high)")
        .mark_area(color=INTERVAL_COLOUR, opacity=0.2)
        .encode(x=time_x(), y="low:Q", y2="high")
    )
    line = (
        named("predictions")
        .mark_line(color=RUL_COLOUR, strokeWidth=2, point=alt.OverlayMarkDef(color=RUL_COLOUR, size=20))
        .encode(
            x=time_x(),
            y=alt.Y("rul:Q", title="cycles", scale=alt.Scale(zero=True)),
            tooltip=[
                time_tooltip(fmt="%Y-%m-%d %H:%M"),
                alt.Tooltip("rul:Q", title="RUL", format=".0f"),
                "interval:N",
                alt.Tooltip("P(failure):Q", format=".0%"),
                "status:N",
            ],
        )
        .add_params(ZOOM)
    )
    thresholds = [
        level_rule(level, SEVERITY_COLOURS[name])
        for name, level in (("warning", warning), ("critical", critical))
        if level is not None
    ]
    return chart(RUL_TITLE, 240, [band, line, *thresholds, *event_layers(), window_layer()])


def drivers_chart(drivers: Sequence[Driver]) -> Spec:
    """Horizontal bars, the strongest driver on top: cycles of RUL each sensor takes away (or adds)."""
    data = pd.DataFrame({"sensor": [d.sensor for d in drivers], "score": [d.score for d in drivers]})
    return with_data(_drivers_layout(), {"drivers": data})


@functools.cache
def _drivers_layout() -> Spec:
    positive = alt.when(alt.datum.score > 0).then(alt.value(SEVERITY_COLOURS["critical"]))
    bars = (
        named("drivers")
        .mark_bar()
        .encode(
            y=alt.Y("sensor:N", title=None, sort="-x"),
            x=alt.X("score:Q", title="cycles of RUL taken away"),
            color=positive.otherwise(alt.value(OK_COLOUR)),
            tooltip=["sensor:N", alt.Tooltip("score:Q", title="cycles", format=".1f")],
        )
    )
    return rows_chart(DRIVERS_TITLE, 26, [bars])


def alert_timeline_chart(alerts: Sequence[Alert], *, start: datetime, end: datetime, tz: tzinfo) -> Spec:
    """One row per alert: a bar from when it opened to when it was resolved (or now), coloured by
    severity, with a diamond where it was acknowledged. Rows are the alerts' labels, in the given order
    (newest first) from the top."""
    labels = [f"#{a.id} {a.rule}" for a in alerts]
    bars = pd.DataFrame(
        {
            "label": labels,
            "row": range(len(alerts)),
            "t": [wall_ms(max(a.opened_at, start), tz) for a in alerts],
            "until": [wall_ms(min(a.resolved_at or end, end), tz) for a in alerts],
            "severity": [a.severity for a in alerts],
            "state": [a.state for a in alerts],
            "message": [a.message for a in alerts],
        }
    )
    acknowledged = [(row, a, label) for row, (a, label) in enumerate(zip(alerts, labels, strict=True))
                    if a.acknowledged_at is not None and start <= a.acknowledged_at <= end]  # fmt: skip
    acks = pd.DataFrame(
        {
            "label": [label for _, _, label in acknowledged],
            "row": [row for row, _, _ in acknowledged],
            "t": [
                wall_ms(a.acknowledged_at, tz) for _, a, _ in acknowledged if a.acknowledged_at is not None
            ],
            "by": [a.acknowledged_by or "?" for _, a, _ in acknowledged],
        },
        columns=["label", "row", "t", "by"],
    )
    datasets = {"alerts": bars, "acknowledged": acks, "window": window(start, end, tz)}
    return with_data(_alert_timeline_layout(), datasets)


@functools.cache
def _alert_timeline_layout() -> Spec:
    y = alt.Y("label:N", title=None, sort=alt.EncodingSortField("row", op="min"))
    bar = (
        named("alerts")
        .mark_bar(height=10)
        .encode(
            x=time_x(),
            x2="until",
            y=y,
            color=colour_by("severity", SEVERITY_COLOURS, "#7f7f7f"),
            tooltip=[alt.Tooltip("label:N", title="alert"), "severity:N", "state:N", "message:N"],
        )
    )
    ack = (
        named("acknowledged")
        .mark_point(shape="diamond", size=110, filled=True, color="#333333", opacity=1)
        .encode(
            x=time_x(),
            y=y,
            tooltip=[time_tooltip("acknowledged", "%Y-%m-%d %H:%M"), alt.Tooltip("by:N", title="by")],
        )
    )
    return rows_chart(ALERTS_TITLE, 24, [bar, ack, window_layer()])
