"""Plotly figures of the Machine page's health: predicted RUL over time with its interval and the
events marked, the sensors driving the current prediction, and the machine's alerts as a timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.charts import add_event_markers
from dashboard.records import Alert, Driver, Event, Health

RUL_TITLE = "Predicted RUL"
DRIVERS_TITLE = "Sensors driving the current prediction"
ALERTS_TITLE = "Alerts"
INTERVAL_FILL = "rgba(148, 103, 189, 0.2)"
RUL_COLOUR = "#9467bd"
SEVERITY_COLOURS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def _wall(ts: datetime, tz: tzinfo) -> datetime:
    return ts.astimezone(tz).replace(tzinfo=None)


def rul_figure(
    history: Sequence[Health],
    *,
    events: Sequence[Event],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    warning: float,
    critical: float,
    revision: str = "",
) -> go.Figure:
    """RUL per prediction (oldest first) as a line, [rul_low, rul_high] as a band around it, the alert
    thresholds as dashed lines, and failures and maintenance as vertical markers. The line is the
    figure's first trace."""
    scored = [h for h in history if h.rul is not None and h.made_at is not None]
    x = [_wall(h.made_at, tz) for h in scored if h.made_at is not None]
    figure = go.Figure(
        go.Scatter(
            x=x,
            y=[h.rul for h in scored],
            mode="lines+markers",
            name="RUL",
            line={"width": 2, "color": RUL_COLOUR},
            marker={"size": 4},
            customdata=[[h.rul_low, h.rul_high, h.failure_probability, h.status] for h in scored],
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>RUL %{y:.0f} (%{customdata[0]:.0f}-%{customdata[1]:.0f})"
            "<br>P(failure) %{customdata[2]:.0%} · %{customdata[3]}<extra></extra>",
        )
    )
    with_interval = [h for h in scored if h.rul_low is not None and h.rul_high is not None]
    if with_interval:
        edge = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False}
        band_x = [_wall(h.made_at, tz) for h in with_interval if h.made_at is not None]
        figure.add_trace(go.Scatter(x=band_x, y=[h.rul_high for h in with_interval], name="high", **edge))
        figure.add_trace(
            go.Scatter(
                x=band_x,
                y=[h.rul_low for h in with_interval],
                name="interval",
                fill="tonexty",
                fillcolor=INTERVAL_FILL,
                **edge,
            )
        )
    for value, colour in ((warning, SEVERITY_COLOURS["warning"]), (critical, SEVERITY_COLOURS["critical"])):
        figure.add_hline(y=value, line={"color": colour, "width": 1, "dash": "dot"})
    add_event_markers(figure, events, start, end, tz)
    figure.update_layout(
        title={"text": RUL_TITLE},
        height=300,
        margin=MARGIN,
        showlegend=False,
        uirevision=revision or RUL_TITLE,
    )
    figure.update_xaxes(range=[_wall(start, tz), _wall(end, tz)])
    figure.update_yaxes(title_text="cycles", rangemode="tozero")
    return figure


def drivers_figure(drivers: Sequence[Driver]) -> go.Figure:
    """Horizontal bars, the strongest driver on top: cycles of RUL each sensor takes away (or adds)."""
    ordered = sorted(drivers, key=lambda d: d.score)
    figure = go.Figure(
        go.Bar(
            x=[d.score for d in ordered],
            y=[d.sensor for d in ordered],
            orientation="h",
            marker={"color": [SEVERITY_COLOURS["critical"] if d.score > 0 else "#2ca02c" for d in ordered]},
            hovertemplate="%{y}: %{x:.1f} cycles<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": DRIVERS_TITLE, "font": {"size": 14}},
        height=max(160, 60 + 28 * len(ordered)),
        margin=MARGIN,
        showlegend=False,
    )
    figure.update_xaxes(title_text="cycles of RUL taken away")
    return figure


def alert_timeline_figure(
    alerts: Sequence[Alert], *, start: datetime, end: datetime, tz: tzinfo
) -> go.Figure:
    """One row per alert: a bar from when it opened to when it was resolved (or now), coloured by
    severity, with a diamond where it was acknowledged. Rows are the alerts' labels, newest on top."""
    figure = go.Figure()
    labels = [f"#{a.id} {a.rule}" for a in alerts]
    for alert, label in zip(alerts, labels, strict=True):
        opened = max(alert.opened_at, start)
        closed = min(alert.resolved_at or end, end)
        colour = SEVERITY_COLOURS.get(alert.severity, "#7f7f7f")
        figure.add_trace(
            go.Scatter(
                x=[_wall(opened, tz), _wall(closed, tz)],
                y=[label, label],
                mode="lines",
                line={"color": colour, "width": 10},
                name=label,
                hovertemplate=f"{label} ({alert.severity}, {alert.state})<br>{alert.message}<extra></extra>",
            )
        )
        if alert.acknowledged_at is not None and start <= alert.acknowledged_at <= end:
            figure.add_trace(
                go.Scatter(
                    x=[_wall(alert.acknowledged_at, tz)],
                    y=[label],
                    mode="markers",
                    marker={"symbol": "diamond", "size": 11, "color": "#333333"},
                    name="acknowledged",
                    hovertemplate=f"acknowledged by {alert.acknowledged_by or '?'}<extra></extra>",
                )
            )
    figure.update_layout(
        title={"text": ALERTS_TITLE, "font": {"size": 14}},
        height=min(400, 90 + 26 * len(alerts)),
        margin=MARGIN,
        showlegend=False,
    )
    figure.update_xaxes(range=[_wall(start, tz), _wall(end, tz)])
    figure.update_yaxes(categoryorder="array", categoryarray=list(reversed(labels)))
    return figure
