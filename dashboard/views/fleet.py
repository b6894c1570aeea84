"""Fleet page: every machine as a health grid (coloured by its predicted RUL and failure probability),
with its open alerts, when it last reported and a link; the machines of one line with their latest
values."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import health_session, session
from dashboard.api_error import ApiError
from dashboard.fleet_grid import (
    BAND_LABELS,
    HEALTH_COLUMNS,
    Thresholds,
    band_counts,
    fleet_table,
    grid_chart,
    health_table,
    line_alert_counts,
    open_alerts_by_machine,
)
from dashboard.formatting import fleet_counts, group_by_line
from dashboard.records import Alert, Health, Machine

ALL = "All"
MACHINE_PAGE = "views/machine.py"


def _choice(column: DeltaGenerator, label: str, options: list[str], param: str) -> str:
    """A selectbox whose choice is kept in the URL (`?site=...&line=...`) so a view can be shared."""
    key = f"fleet_{param}"
    if st.session_state.get(key) not in options:
        wanted = st.query_params.get(param)
        st.session_state[key] = wanted if wanted in options else ALL
    value = str(column.selectbox(label, options, key=key))
    if value == ALL:
        st.query_params.pop(param, None)
    else:
        st.query_params[param] = value
    return value


def _filters(machines: list[Machine]) -> list[Machine]:
    """Site and line filters; returns the machines they keep."""
    left, right = st.columns(2)
    site = _choice(left, "Site", [ALL, *sorted({m.site for m in machines})], "site")
    in_site = [m for m in machines if site == ALL or m.site == site]
    line = _choice(right, "Line", [ALL, *sorted({m.line for m in in_site})], "line")
    return [m for m in in_site if line == ALL or m.line == line]


def _open_machine(machines: list[Machine]) -> None:
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    path = left.selectbox("Open a machine", [m.path for m in machines], key="fleet_open_machine")
    if path:
        # A link, not a button: a click runs the Machine page at once, as the sidebar does (a button
        # would first run this page again, then switch).
        right.page_link(
            MACHINE_PAGE, label="Open", icon="📈", query_params={"machine": path}, width="stretch"
        )


def _health_and_alerts() -> tuple[dict[int, Health] | None, list[Alert] | None]:
    """The fleet's latest predictions and active alerts; None (after saying so) where the API failed."""
    health: dict[int, Health] | None = None
    alerts: list[Alert] | None = None
    try:
        with st.spinner("Loading the fleet's health…"):
            health = health_session.fleet_health()
    except ApiError as exc:
        session.show_api_error(exc, "read the fleet's health")
    try:
        alerts = health_session.active_alerts()
    except ApiError as exc:
        session.show_api_error(exc, "list the open alerts")
    return health, alerts


def _tables(
    machines: list[Machine],
    health: dict[int, Health] | None,
    alerts: list[Alert] | None,
    per_machine: dict[str, list[Alert]] | None,
    now: datetime,
    stale_after_s: float,
) -> None:
    """One line: its machines with their sensors' latest values. Many: one table of all their machines,
    most urgent first (one widget, not one per line: 1,000 machines stay fast and sort as one)."""
    on_lines = line_alert_counts(alerts or [])
    lines = group_by_line(machines)
    for site, line in lines:
        if on_lines.get(f"{site}/{line}"):
            st.caption(f"🚨 {on_lines[f'{site}/{line}']} open alert(s) on line {site}/{line} itself.")
    if len(lines) == 1:
        (((site, line), members),) = lines.items()
        st.subheader(f"Line {line} · site {site}")
        table = health_table(members, health, per_machine, now, stale_after_s)  # by name
    else:
        st.subheader(f"{len(machines)} machines on {len(lines)} lines, most urgent first")
        st.caption("Choose a line above to see the latest value of each of its sensors.")
        table = fleet_table(machines, health, per_machine, now, stale_after_s)
    st.dataframe(
        table,  # no Styler: its fixed cost per table (~25 ms) adds up
        hide_index=True,
        width="stretch",
        height="auto" if len(table) <= 12 else 560,
        column_config={
            "details": st.column_config.LinkColumn("details", display_text="open ↗"),
            "RUL": st.column_config.NumberColumn("RUL", format="%.0f", help="Predicted cycles left."),
            "P(failure)": st.column_config.NumberColumn(
                "P(failure)", format="percent", help="Probability of failing within the horizon."
            ),
            "open alerts": st.column_config.NumberColumn("open alerts", format="%d"),
            "why": st.column_config.TextColumn("why", width="large"),
            **{  # the sensors' latest values
                label: st.column_config.NumberColumn(label, format="%.4g")
                for label in table.columns
                if label not in HEALTH_COLUMNS and label != "line"
            },
        },
    )


def _legend(limits: Thresholds) -> str:
    def levels(rul: float | None, probability: float | None) -> str:
        said = [
            f"RUL ≤ {rul:g}" if rul is not None else "",
            f"P(failure) ≥ {probability:.0%}" if probability is not None else "",
        ]
        return " or ".join(part for part in said if part) or "off"

    return (
        f"{BAND_LABELS['critical']}: {levels(limits.rul_critical, limits.probability_critical)} · "
        f"{BAND_LABELS['warning']}: {levels(limits.rul_warning, limits.probability_warning)}, plant-wide"
        f"{limits.source_note()}; a "
        f"line or machine may have thresholds of its own (GET /api/v1/alert-rules) · {BAND_LABELS['none']}: "
        "not scored yet or withheld (the why column says why)."
    )


def _counts(
    shown: list[Machine], health: dict[int, Health] | None, alerts: list[Alert] | None, now: datetime
) -> None:
    stale_after_s = float(session.settings().silent_after_s)
    total, _reporting, silent = fleet_counts(shown, now, stale_after_s)
    bands = band_counts(shown, health)
    paths = {m.path for m in shown}
    counts = st.columns(7)
    counts[0].metric("Machines", total)
    for column, name in zip(counts[1:5], bands, strict=True):
        column.metric(BAND_LABELS[name], bands[name] if health is not None else "?")
    counts[5].metric("Open alerts", sum(a.machine in paths for a in alerts) if alerts is not None else "?")
    counts[6].metric(f"Silent (> {stale_after_s / 60:g} min)", silent)


def fleet_body() -> None:
    health_ready = session.prefetch(*health_session.fleet_reads())  # read while the machines load
    machines = session.machines_or_explain()
    if machines is None:
        return
    stale_after_s = float(session.settings().silent_after_s)
    now = datetime.now(UTC)
    shown = _filters(machines)
    health_ready()
    health, alerts = _health_and_alerts()
    _counts(shown, health, alerts, now)
    if not shown:
        st.info("No machine matches these filters: choose another site or line.")
        return
    _open_machine(shown)
    st.caption(_legend(health_session.thresholds()))
    per_machine = None if alerts is None else open_alerts_by_machine(alerts)
    grid = grid_chart(shown, health, per_machine, now, stale_after_s)
    st.vega_lite_chart(spec=grid, key="fleet_grid", width="content" if "width" in grid else "stretch")
    _tables(shown, health, alerts, per_machine, now, stale_after_s)
    minutes = f"{stale_after_s / 60:g} min"
    st.caption(f"Updated {now.astimezone(session.display_tz()):%H:%M:%S}. ⚠ = no reading for over {minutes}.")


st.title("Fleet")
st.fragment(fleet_body, run_every=session.refresh_every())()
