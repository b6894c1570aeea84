"""Fleet page: every machine per site and line, when it last reported and its latest values."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import session
from dashboard.formatting import fleet_counts, group_by_line, line_table
from dashboard.records import Machine

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
    if right.button("Open", key="fleet_open", width="stretch") and path:
        st.switch_page(MACHINE_PAGE, query_params={"machine": path})


def _tables(machines: list[Machine], now: datetime, stale_after_s: float) -> None:
    current_site = None
    for (site, line), members in group_by_line(machines).items():
        if site != current_site:
            st.header(f"Site {site}")
            current_site = site
        st.subheader(f"Line {line}")
        table = line_table(members, now, stale_after_s)
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "details": st.column_config.LinkColumn("details", display_text="open ↗"),
                **{
                    label: st.column_config.NumberColumn(label, format="%.4g")
                    for label in table.columns
                    if label not in ("machine", "last seen", "details")
                },
            },
        )


def fleet_body() -> None:
    machines = session.machines_or_explain()
    if machines is None:
        return
    stale_after_s = float(session.settings().silent_after_s)
    now = datetime.now(UTC)
    shown = _filters(machines)
    total, reporting, silent = fleet_counts(shown, now, stale_after_s)
    minutes = f"{stale_after_s / 60:g} min"
    counts = st.columns(3)
    counts[0].metric("Machines", total)
    counts[1].metric(f"Reporting (last {minutes})", reporting)
    counts[2].metric("Silent", silent)
    if not shown:
        st.info("No machine matches these filters: choose another site or line.")
        return
    _open_machine(shown)
    _tables(shown, now, stale_after_s)
    st.caption(f"Updated {now.astimezone(session.display_tz()):%H:%M:%S}. ⚠ = no reading for over {minutes}.")


st.title("Fleet")
st.fragment(fleet_body, run_every=session.refresh_every())()
