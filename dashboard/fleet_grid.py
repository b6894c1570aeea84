"""The Fleet page's health, without Streamlit: the colour band of each machine's latest prediction,
the grid of squares (an Altair chart), the table of one line (health, RUL, failure probability, open
alerts, last seen, latest values, link) or of many (the same with the line, most urgent first, without
the sensors' values), and the fleet's counts per band. Tested directly.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import altair as alt
import pandas as pd

from dashboard.formatting import group_by_line, last_seen_label, machine_url, sensor_values
from dashboard.records import Alert, Health, Machine
from dashboard.vega import Spec, colour_by, named, rows_chart, with_data

BANDS = ("critical", "warning", "ok", "none")
BAND_LABELS = {"critical": "🔴 critical", "warning": "🟠 warning", "ok": "🟢 ok", "none": "⚪ no prediction"}
NO_PREDICTION_SHORT = "⚪ n/a"  # where "no prediction" does not fit
HEALTH_COLUMNS = ["machine", "health", "RUL", "RUL interval", "P(failure)", "open alerts", "last seen",
                  "details", "why"]  # fmt: skip
NO_HEALTH = "the API did not say (see the error above)"


@dataclass(frozen=True)
class Thresholds:
    """Where the `rul_low` and `failure_probability_high` alert rules start warning and critical (None:
    that level is not set, or the rule is off)."""

    rul_warning: float | None
    rul_critical: float | None
    probability_warning: float | None
    probability_critical: float | None
    from_api: bool = True  # False: the dashboard's own settings, as the API did not say

    def source_note(self) -> str:
        return "" if self.from_api else " (the dashboard's defaults: the API did not say which apply)"


def band(health: Health | None) -> str:
    """The API's rating of the prediction (`severity`: the alert rules in effect for the machine, with
    their line and machine overrides); none when there is no usable prediction."""
    if health is None or health.status in ("pending", "withheld") or health.severity is None:
        return "none"
    return health.severity


def why(health: Health | None, alerts: Sequence[Alert] = ()) -> str:
    """Why the machine needs attention, or has no usable prediction: its active alerts' messages (most
    severe first), the API's reasons for a degraded, withheld or pending prediction, and for a warning
    or critical prediction without an alert yet, its figures. Empty when all is well. No health (the API
    did not answer): the alerts, then that."""
    said = [a.message for a in alerts]
    if health is None:
        return "; ".join([*said, NO_HEALTH])
    said += health.reasons
    if not said and band(health) in ("critical", "warning"):
        rul, probability = health.rul, health.failure_probability
        figures = [f"RUL {rul:.0f}" if rul is not None else "",
                   f"P(failure) {probability:.0%}" if probability is not None else ""]  # fmt: skip
        said.append(f"{band(health)}: {', '.join(f for f in figures if f)}")
    if not said and health.status != "ok":
        said.append(health.status)
    return "; ".join(said)


def interval_text(health: Health | None) -> str:
    if health is None or health.rul_low is None or health.rul_high is None:
        return ""
    return f"{health.rul_low:.0f}-{health.rul_high:.0f}"


SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def open_alerts_by_machine(alerts: Iterable[Alert]) -> dict[str, list[Alert]]:
    """Active alerts per machine path, the most severe (then newest) first (line alerts are counted per
    line by `line_alert_counts`)."""
    found: dict[str, list[Alert]] = {}
    for alert in alerts:
        if alert.machine is not None and alert.state != "resolved":
            found.setdefault(alert.machine, []).append(alert)
    for listed in found.values():
        listed.sort(key=lambda a: (SEVERITY_RANK.get(a.severity, 3), -a.opened_at.timestamp(), -a.id))
    return found


def line_alert_counts(alerts: Iterable[Alert]) -> Counter[str]:
    """Active alerts raised on a line itself (not one of its machines), per `site/line`."""
    return Counter(a.line for a in alerts if a.machine is None and a.state != "resolved")


def _health_rows(
    machines: Sequence[Machine],
    health: Mapping[int, Health] | None,
    open_alerts: Mapping[str, Sequence[Alert]] | None,
    now: datetime,
    stale_after_s: float,
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for machine in machines:
        found = None if health is None else health.get(machine.id)
        alerts = () if open_alerts is None else open_alerts.get(machine.path, ())
        rows.append(
            {
                "machine": machine.name,
                "health": BAND_LABELS[band(found)],
                "RUL": found.rul if found else None,
                "RUL interval": interval_text(found),
                "P(failure)": found.failure_probability if found else None,
                "open alerts": None if open_alerts is None else len(alerts),
                "last seen": last_seen_label(machine.last_activity, now, stale_after_s),
                "details": machine_url(machine.path),
                "why": why(found, alerts),
            }
        )
    return rows


def health_table(
    machines: Sequence[Machine],
    health: Mapping[int, Health] | None,
    open_alerts: Mapping[str, Sequence[Alert]] | None,
    now: datetime,
    stale_after_s: float,
) -> pd.DataFrame:
    """One row per machine of a line, then the latest value of each of its sensors. `health` or
    `open_alerts` None: the API did not answer."""
    table = pd.DataFrame(
        _health_rows(machines, health, open_alerts, now, stale_after_s), columns=HEALTH_COLUMNS
    )
    return pd.concat([table, sensor_values(machines)], axis=1)


def fleet_table(
    machines: Sequence[Machine],
    health: Mapping[int, Health] | None,
    open_alerts: Mapping[str, Sequence[Alert]] | None,
    now: datetime,
    stale_after_s: float,
) -> pd.DataFrame:
    """One row per machine of many lines, its line first, the most urgent first (by band, then RUL):
    one table, not one per line, so that 1,000 machines load fast and sort as one."""
    rows = _health_rows(machines, health, open_alerts, now, stale_after_s)
    for machine, row in zip(machines, rows, strict=True):
        row["line"] = f"{machine.site}/{machine.line}"
    urgency = {BAND_LABELS[name]: rank for rank, name in enumerate(BANDS)}
    rows.sort(
        key=lambda row: (
            urgency[str(row["health"])], _rul_key(row["RUL"]), str(row["line"]), str(row["machine"])
        )
    )  # fmt: skip
    return pd.DataFrame(rows, columns=["line", *HEALTH_COLUMNS])


def _rul_key(rul: object) -> float:
    return float(rul) if isinstance(rul, int | float) else float("inf")


def band_counts(machines: Iterable[Machine], health: Mapping[int, Health] | None) -> dict[str, int]:
    """Machines per band, every band present (in BANDS order)."""
    counted = Counter(band(None if health is None else health.get(m.id)) for m in machines)
    return {name: counted.get(name, 0) for name in BANDS}


BAND_COLOURS = {"critical": "#d62728", "warning": "#ff7f0e", "ok": "#2ca02c", "none": "#c7c7c7"}
GRID_ROW_PX = 22
SQUARES_FIT = 40  # machines per line that fit a laptop screen as squares; more share the width


def grid_chart(
    machines: Sequence[Machine],
    health: Mapping[int, Health] | None,
    open_alerts: Mapping[str, Sequence[Alert]] | None,
    now: datetime,
    stale_after_s: float,
) -> Spec:
    """The health grid: one square per machine, a row per line (machines by name), coloured by band;
    its tooltip says the figures, a click opens the machine."""
    cells = []
    lines = group_by_line(machines)
    for (site, line), members in lines.items():
        for slot, machine in enumerate(sorted(members, key=lambda m: m.name)):
            found = None if health is None else health.get(machine.id)
            cells.append({
                "line": f"{site}/{line}", "slot": slot, "machine": machine.name, "band": band(found),
                "RUL": None if found is None or found.rul is None else round(found.rul),
                "P(failure)": None if found is None else found.failure_probability,
                "open alerts": None if open_alerts is None else len(open_alerts.get(machine.path, ())),
                "last seen": last_seen_label(machine.last_activity, now, stale_after_s),
                "url": machine_url(machine.path),
            })  # fmt: skip
    longest = max((len(members) for members in lines.values()), default=0)
    squares = longest <= SQUARES_FIT  # few per line: squares, not long bars
    return with_data(_grid_layout(squares), {"cells": pd.DataFrame(cells)})


@functools.lru_cache(maxsize=2)
def _grid_layout(squares: bool) -> Spec:
    tooltip = ["line:N", "machine:N", "band:N", "RUL:Q", alt.Tooltip("P(failure):Q", format=".0%"),
               "open alerts:Q", "last seen:N"]  # fmt: skip
    cell = (
        named("cells")
        .mark_rect(stroke="white", strokeWidth=1, cursor="pointer")
        .encode(
            x=alt.X("slot:O", axis=None),
            y=alt.Y("line:N", title=None),
            color=colour_by("band", BAND_COLOURS, BAND_COLOURS["none"]),
            href="url:N",
            tooltip=tooltip,
        )
    )
    return rows_chart(
        "Health grid: a square per machine; click one to open it",
        GRID_ROW_PX,
        [cell],
        column_px=GRID_ROW_PX if squares else None,
    )
