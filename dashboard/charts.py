"""Plotly figures shared by the pages: a sensor trend with its normal band and event markers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

import plotly.graph_objects as go

from dashboard.records import Event, Point

EVENT_COLOURS = {"failure": "#d62728", "maintenance": "#1f77b4"}
BAND_COLOUR = "rgba(44, 160, 44, 0.12)"


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
