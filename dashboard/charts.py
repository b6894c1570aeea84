"""Plotly figures shared by the pages: a sensor trend with its normal band and event markers, a
p-chart of defect rates with control limits, and training curves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.ops_records import QualitySample
from dashboard.records import Event, Point

EVENT_COLOURS = {"failure": "#d62728", "maintenance": "#1f77b4"}
BAND_COLOUR = "rgba(44, 160, 44, 0.12)"
OUT_OF_CONTROL = "#d62728"


def _wall(ts: datetime, tz: tzinfo) -> datetime:
    """Naive wall-clock time in `tz`: Plotly.js ignores offsets, so hand it local times."""
    return ts.astimezone(tz).replace(tzinfo=None)


def trend_figure(
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
    revision: str = "",
) -> go.Figure:
    """One sensor over [start, end]: its line, the normal range as a band, events as vertical lines."""
    figure = go.Figure(
        go.Scatter(
            x=[_wall(p.ts, tz) for p in points],
            y=[p.value for p in points],
            mode="lines",
            name=sensor,
            line={"width": 1.5},
            hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>%{y:.4g}"
            + (f" {unit}" if unit else "")
            + "<extra></extra>",
        )
    )
    if normal_min is not None and normal_max is not None:
        figure.add_hrect(
            y0=normal_min,
            y1=normal_max,
            fillcolor=BAND_COLOUR,
            line_width=0,
            layer="below",
            name="normal range",
        )
    for bound in (normal_min, normal_max):
        if bound is not None:
            figure.add_hline(y=bound, line={"color": "#2ca02c", "width": 1, "dash": "dot"})
    add_event_markers(figure, events, start, end, tz)
    figure.update_layout(
        title={"text": f"{sensor} [{unit}]" if unit else sensor},
        height=300,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        showlegend=False,
        # Keep the user's zoom across auto-refreshes of the same chart.
        uirevision=revision or sensor,
    )
    figure.update_xaxes(range=[_wall(start, tz), _wall(end, tz)])
    figure.update_yaxes(title_text=unit or "")
    return figure


def add_event_markers(
    figure: go.Figure, events: Sequence[Event], start: datetime, end: datetime, tz: tzinfo
) -> None:
    """The events of [start, end] as labelled vertical lines (failure red, maintenance blue)."""
    for event in events:
        if not start <= event.ts <= end:
            continue
        colour = EVENT_COLOURS.get(event.kind, "#7f7f7f")
        x = _wall(event.ts, tz)
        # add_vline's own annotation breaks on datetime axes in some Plotly versions; draw both parts.
        figure.add_shape(
            type="line",
            x0=x,
            x1=x,
            y0=0,
            y1=1,
            yref="paper",
            line={"color": colour, "width": 2, "dash": "dash"},
            name=event.kind,
        )
        figure.add_annotation(
            x=x,
            y=1,
            yref="paper",
            text=event.kind,
            showarrow=False,
            yanchor="bottom",
            font={"color": colour, "size": 11},
            hovertext=event.note or event.kind,
        )


def p_chart_figure(samples: Sequence[QualitySample], *, title: str, tz: tzinfo) -> go.Figure:
    """Defect rate per sample with its centre line and control limits (steps: each sample has its
    own limits); samples above the upper limit in red."""
    x = [_wall(s.start, tz) for s in samples]
    figure = go.Figure(
        go.Scatter(
            x=x,
            y=[s.rate for s in samples],
            mode="lines+markers",
            name="defect rate",
            line={"width": 1.5, "color": "#1f77b4"},
            marker={"color": [OUT_OF_CONTROL if s.out_of_control else "#1f77b4" for s in samples], "size": 7},
            customdata=[[s.defective, s.inspected] for s in samples],
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{y:.1%} (%{customdata[0]} of %{customdata[1]})"
            "<extra></extra>",
        )
    )
    limits = (("centre", "center", "#2ca02c", "solid"), ("upper limit", "upper", "#d62728", "dash"),
              ("lower limit", "lower", "#d62728", "dot"))  # fmt: skip
    for name, field, colour, dash in limits:
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[getattr(s, field) for s in samples],
                mode="lines",
                name=name,
                line={"color": colour, "width": 1, "dash": dash, "shape": "hvh"},
                hovertemplate=f"{name} %{{y:.1%}}<extra></extra>",
            )
        )
    figure.update_layout(
        title={"text": title},
        height=320,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.15},
        uirevision=title,
    )
    figure.update_yaxes(title_text="defect rate", tickformat=".0%", rangemode="tozero")
    return figure


def curves_figure(curves: dict[str, list[float]], *, title: str) -> go.Figure:
    """Training curves: one line per recorded series, against the epoch."""
    figure = go.Figure(
        [
            go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines", name=name)
            for name, values in curves.items()
        ]
    )
    figure.update_layout(title={"text": title}, height=300, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    figure.update_xaxes(title_text="epoch")
    return figure
