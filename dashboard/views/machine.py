"""Machine page: one machine's health (current prediction and its drivers, predicted RUL over time),
sensor trends with their normal bands, alerts and events, and a form to log maintenance or a failure.

The machine is in the URL (`?machine=site/line/machine`), so a view can be shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

import plotly.graph_objects as go
import streamlit as st

from dashboard import session
from dashboard.charts import trend_figure
from dashboard.client import ApiError
from dashboard.formatting import events_table, last_seen_label
from dashboard.machine_health import alert_timeline, current_prediction, drivers, rul_history
from dashboard.records import Machine, Point

RANGES = {
    "15 min": timedelta(minutes=15),
    "1 h": timedelta(hours=1),
    "6 h": timedelta(hours=6),
    "24 h": timedelta(hours=24),
    "7 d": timedelta(days=7),
}
PICK = "machine_pick"
BUCKET_LABELS = {"1m": "1-minute", "1h": "1-hour"}
BAND_FILL = "rgba(31, 119, 180, 0.2)"
EVENT_RESULT = "machine_event_result"


def _sync_query_param() -> None:
    st.query_params["machine"] = st.session_state[PICK]


def _pick_machine(machines: list[Machine]) -> Machine:
    by_path = {m.path: m for m in sorted(machines, key=lambda m: m.path)}
    wanted = st.query_params.get("machine")
    if wanted is not None and wanted not in by_path:
        # Also accept a numeric id or an external code in the URL.
        match = next((m for m in machines if wanted in (str(m.id), m.external_code)), None)
        if match is None:
            st.warning(f"There is no machine {wanted!r}: pick one below.")
        wanted = match.path if match else None
    if wanted is not None:
        st.session_state[PICK] = wanted
    elif st.session_state.get(PICK) not in by_path:
        st.session_state[PICK] = next(iter(by_path))
    path = st.selectbox("Machine", list(by_path), key=PICK, on_change=_sync_query_param)
    st.query_params["machine"] = path
    return by_path[path]


def _add_min_max_band(figure: go.Figure, points: Sequence[Point], tz: tzinfo) -> None:
    """Bucket averages: shade each bucket's min to max around the line (added after it, so the
    line stays the figure's first trace)."""
    x = [p.ts.astimezone(tz).replace(tzinfo=None) for p in points]
    edge = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False}
    figure.add_trace(go.Scatter(x=x, y=[p.max for p in points], name="max", **edge))
    figure.add_trace(
        go.Scatter(x=x, y=[p.min for p in points], name="min", fill="tonexty", fillcolor=BAND_FILL, **edge)
    )


def _charts(machine_id: int, sensors: list[str], range_label: str) -> None:
    try:
        machine = next(m for m in session.machines() if m.id == machine_id)  # fresh on auto-refresh
    except (ApiError, StopIteration):
        st.warning("This machine is no longer listed by the API.")
        return
    start, end = session.window(RANGES[range_label], datetime.now(UTC))
    tz = session.display_tz()
    try:
        events = session.events(machine.id)
    except ApiError as exc:
        session.show_api_error(exc, "list the machine's events")
        events = []
    seen = last_seen_label(machine.last_activity, datetime.now(UTC), session.settings().silent_after_s)
    st.caption(f"Last seen {seen} · times in {tz}")
    left, right = st.columns([2, 1])
    with left:
        health = current_prediction(machine, tz)
        rul_history(machine, health, events, (start, end), range_label, tz)
    with right:
        drivers(health)
    st.subheader("Sensors")
    if not sensors and machine.sensors:
        st.info("Pick at least one sensor to see its trend.")
    columns = st.columns(2) if len(sensors) > 1 else [st.container()]
    for index, name in enumerate(sensors):
        sensor = machine.sensor(name)
        with columns[index % len(columns)]:
            try:
                with st.spinner(f"Loading {name}…"):
                    series = session.series(machine.id, name, start, end)
            except ApiError as exc:
                session.show_api_error(exc, f"read {name}")
                continue
            if not series.points:
                st.info(f"No {name} readings in the last {range_label}: pick a longer range.")
                continue
            figure = trend_figure(
                series.points,
                sensor=name,
                unit=series.unit or (sensor.unit if sensor else None),
                normal_min=sensor.normal_min if sensor else None,
                normal_max=sensor.normal_max if sensor else None,
                events=events,
                start=start,
                end=end,
                tz=tz,
                revision=f"{machine.path}/{name}/{range_label}",
            )
            if series.bucket in BUCKET_LABELS:
                _add_min_max_band(figure, series.points, tz)
            st.plotly_chart(figure, key=f"trend_{name}", width="stretch")
            if series.bucket in BUCKET_LABELS:
                st.caption(
                    f"{BUCKET_LABELS[series.bucket]} averages; the band spans each bucket's min to max."
                )
            if series.truncated:
                since = series.points[0].ts.astimezone(tz)
                st.caption(
                    f"Too many readings for {range_label}: showing the latest {len(series.points)} "
                    f"(since {since:%Y-%m-%d %H:%M}). Pick a shorter range to see every reading."
                )
    alert_timeline(machine, start, end, range_label, tz)
    st.subheader("Recent events")
    if events:
        st.dataframe(events_table(events, tz), hide_index=True, width="stretch")
    else:
        st.caption("No maintenance or failure logged for this machine yet.")


def _log_event(machine_id: int, path: str) -> None:
    """Form callback: runs before the page, so the charts and the event list already show the new event."""
    state = st.session_state
    tz = session.display_tz()
    if state["event_now"]:
        ts = datetime.now(UTC)
    else:
        ts = datetime.combine(state["event_date"], state["event_time"]).replace(tzinfo=tz)
    kind = state["event_kind"]
    try:
        event = session.client().log_event(machine_id, kind, ts, state["event_note"].strip())
    except ApiError as exc:
        state[EVENT_RESULT] = ("error", exc)
        return
    session.forget_events()
    state[EVENT_RESULT] = (
        "ok",
        f"Logged {event.kind} of {path} at {event.ts.astimezone(tz):%Y-%m-%d %H:%M:%S}.",
    )


def _event_form(machine: Machine) -> None:
    st.subheader("Log maintenance or a failure")
    result = st.session_state.pop(EVENT_RESULT, None)
    if result is not None:
        status, payload = result
        if status == "ok":
            st.success(payload)
        else:
            session.show_api_error(payload, "log events")
    with st.form("event_form", clear_on_submit=True):
        st.radio("What happened", ["maintenance", "failure"], key="event_kind", horizontal=True)
        st.checkbox("Just now", value=True, key="event_now")
        left, right = st.columns(2)
        left.date_input("Date (when not just now)", key="event_date")
        right.time_input("Time", key="event_time", step=60)
        st.text_area("Note", key="event_note", placeholder="What was done or what broke, work order…")
        st.form_submit_button(
            "Log event", on_click=_log_event, args=(machine.id, machine.path), key="event_submit"
        )


def machine_page() -> None:
    st.title("Machine")
    machines = session.machines_or_explain()
    if machines is None:
        return
    machine = _pick_machine(machines)
    st.caption(
        " · ".join(x for x in (machine.site, machine.line, machine.machine_type, machine.external_code) if x)
    )
    left, right = st.columns([1, 2])
    range_label = left.radio("Time range", list(RANGES), index=1, horizontal=True, key="machine_range")
    names = [s.name for s in sorted(machine.sensors, key=lambda s: s.position)]
    sensors: list[str] = []
    if not names:
        st.info(
            f"{machine.path} has no sensors yet: they appear with its first reading "
            f"on `{session.settings().mqtt_topic_root}/{machine.path}/telemetry`."
        )
    else:
        sensors = right.multiselect("Sensors", names, default=names, key=f"machine_sensors_{machine.id}")
    st.fragment(_charts, run_every=session.refresh_every())(machine.id, sensors, range_label)
    _event_form(machine)


machine_page()
