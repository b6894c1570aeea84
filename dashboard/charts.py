"""Charts shared by the pages (built with Altair, see dashboard.vega): a sensor trend with its normal
band and event markers, a p-chart of defect rates with control limits, and training curves."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, tzinfo

import altair as alt
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
    named,
    one_row,
    time_tooltip,
    time_x,
    wall_ms,
    window,
    window_layer,
    with_data,
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
    datasets = {"points": data, "events": events_in(events, start, end, tz), "window": window(start, end, tz)}
    return with_data(_trend_layout(sensor, unit, normal_min, normal_max, spread), datasets)


@functools.lru_cache(maxsize=256)
def _trend_layout(
    sensor: str, unit: str | None, normal_min: float | None, normal_max: float | None, spread: bool
) -> Spec:
    layers: list[alt.Chart] = []
    if normal_min is not None and normal_max is not None:
        layers.append(
            one_row(low=normal_min, high=normal_max)
            .mark_rect(color=BAND_COLOUR, opacity=0.12)
            .encode(y=alt.datum(normal_min), y2=alt.datum(normal_max))
        )
    layers += [level_rule(bound, BAND_COLOUR) for bound in (normal_min, normal_max) if bound is not None]
    if spread:
        layers.append(
            named("points")
            .mark_area(color=SPREAD_COLOUR, opacity=0.2)
            .encode(x=time_x(), y="min:Q", y2="max")
        )
    suffix = f" {unit}" if unit else ""
    layers.append(
        named("points")
        .mark_line(color=LINE_COLOUR, strokeWidth=1.5)
        .encode(
            x=time_x(),
            y=alt.Y("value:Q", title=unit or None, scale=alt.Scale(zero=False)),
            tooltip=[time_tooltip(), alt.Tooltip("value:Q", title=sensor + suffix, format=".4g")],
        )
        .add_params(ZOOM)
    )
    layers += [*event_layers(), window_layer()]
    return chart(f"{sensor} [{unit}]" if unit else sensor, 240, layers)


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
    return with_data(_p_layout(title), {"samples": data})


@functools.lru_cache(maxsize=64)
def _p_layout(title: str) -> Spec:
    series = list(LIMITS)
    limit_series: list[str | alt.FieldName] = [*series[1:]]  # the rate is a line of its own
    colours = alt.Scale(domain=series, range=[colour for colour, _ in LIMITS.values()])
    dashes = alt.Scale(domain=series, range=[dash for _, dash in LIMITS.values()])

    def rate_y(field: str) -> alt.Y:
        return alt.Y(field=field, type="quantitative", title="defect rate", axis=alt.Axis(format=".0%"))

    limits = (
        named("samples")
        .transform_fold(limit_series, as_=["series", "value"])
        .mark_line(interpolate="step", strokeWidth=1)
        .encode(
            x=time_x(),
            y=rate_y("value"),
            color=alt.Color("series:N", scale=colours, legend=alt.Legend(orient="bottom", title=None)),
            strokeDash=alt.StrokeDash("series:N", scale=dashes, legend=None),
        )
    )
    # Its legend entry comes from the limits' legend, whose colour scale names all four lines.
    rate = (
        named("samples")
        .mark_line(strokeWidth=1.5, color=LIMITS["defect rate"][0])
        .encode(x=time_x(), y=rate_y("defect rate"))
    )
    markers = (
        named("samples")
        .mark_point(filled=True, size=50, opacity=1)
        .encode(
            x=time_x(),
            y="defect rate:Q",
            color=alt.when("datum['out of control']")
            .then(alt.value(OUT_OF_CONTROL))
            .otherwise(alt.value(LINE_COLOUR)),
            tooltip=[
                time_tooltip(fmt="%Y-%m-%d %H:%M"),
                alt.Tooltip("defect rate:Q", format=".1%"),
                "defective:Q",
                "inspected:Q",
                alt.Tooltip("upper limit:Q", format=".1%"),
            ],
        )
    )
    return chart(title, 320, [limits, rate, markers])


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
    return with_data(_curves_layout(title, tuple(curves)), {"curves": data})


@functools.lru_cache(maxsize=64)
def _curves_layout(title: str, series: tuple[str, ...]) -> Spec:
    line = (
        named("curves")
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom"), sort=list(series)),
            tooltip=["series:N", "epoch:Q", alt.Tooltip("value:Q", format=".4g")],
        )
    )
    return chart(title, 300, [line])
