"""Machine page: one machine's health (current prediction and its drivers, predicted RUL over time),
sensor trends with their normal bands, alerts and events, and a form to log maintenance or a failure.

The machine is in the URL (`?machine=site/line/machine`), so a view can be shared.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

import streamlit as st

from dashboard import health_session, machine_reads, session
from dashboard.api_error import ApiError
from dashboard.charts import trend_chart
from dashboard.formatting import default_trends, events_table, last_seen_label
from dashboard.machine_health import alert_timeline, current_prediction, drivers, rul_history
from dashboard.records import Event, Machine, Series

RANGES = {
    "15 min": timedelta(minutes=15),
    "1 h": timedelta(hours=1),
    "6 h": timedelta(hours=6),
    "24 h": timedelta(hours=24),
    "7 d": timedelta(days=7),
}
PICK = "machine_pick"
BUCKET_LABELS = {"1m": "1-minute", "1h": "1-hour"}
EVENT_RESULT = "machine_event_result"
DEFAULT_TRENDS = 6  # trends drawn at first: a page of 20 charts is slow to draw and to read


def _sync_query_param() -> None:
    st.query_params["machine"] = st.session_state[PICK]


def _wanted(paths: list[str]) -> str | None:
    """The path of the machine the URL names (by path, id or external code), if any."""
    wanted = st.query_params.get("machine")
    if wanted is None or wanted in paths:
        return wanted
    try:  # an id, an external code, or a machine newer than the picker's list
        return machine_reads.machine(wanted).path
    except ApiError as exc:
        if exc.status in (404, 422):
            st.warning(f"There is no machine {wanted!r}: pick one below.")
        else:
            session.show_api_error(exc, f"find the machine {wanted!r}")
        return None


def _pick_machine(machines: list[Machine]) -> str:
    paths = sorted(m.path for m in machines)
    wanted = _wanted(paths)
    if wanted is not None:
        if wanted not in paths:
            paths = sorted([*paths, wanted])
        st.session_state[PICK] = wanted
    elif st.session_state.get(PICK) not in paths:
        st.session_state[PICK] = paths[0]
    path = str(st.selectbox("Machine", paths, key=PICK, on_change=_sync_query_param))
    st.query_params["machine"] = path
    return path


def _trend(
    machine: Machine,
    name: str,
    series: Series | ApiError,
    events: list[Event],
    times: tuple[datetime, datetime],
    range_label: str,
    tz: tzinfo,
) -> None:
    """One sensor's chart with its captions, or why there is none."""
    if isinstance(series, ApiError):
        session.show_api_error(series, f"read {name}")
        return
    if not series.points:
        st.info(f"No {name} readings in the last {range_label}: pick a longer range.")
        return
    sensor = machine.sensor(name)
    spread = series.bucket in BUCKET_LABELS
    spec = trend_chart(
        series.points,
        sensor=name,
        unit=series.unit or (sensor.unit if sensor else None),
        normal_min=sensor.normal_min if sensor else None,
        normal_max=sensor.normal_max if sensor else None,
        events=events,
        start=times[0],
        end=times[1],
        tz=tz,
        spread=spread,
    )
    st.vega_lite_chart(spec=spec, key=f"trend_{name}", width="stretch")
    if spread:
        st.caption(f"{BUCKET_LABELS[series.bucket]} averages; the band spans each bucket's min to max.")
    if series.truncated:
        since = series.points[0].ts.astimezone(tz)
        st.caption(
            f"Too many readings for {range_label}: showing the latest {len(series.points)} "
            f"(since {since:%Y-%m-%d %H:%M}). Pick a shorter range to see every reading."
        )


def _charts(path: str, sensors: list[str], range_label: str) -> None:
    try:
        machine = machine_reads.machine(path)  # fresh on auto-refresh
    except ApiError:
        st.warning("This machine is no longer listed by the API.")
        return
    start, end = session.window(RANGES[range_label], datetime.now(UTC))
    tz = session.display_tz()
    with st.spinner("Loading the machine's data…"):
        machine_reads.read_all(machine, sensors, (start, end))
    try:
        events = machine_reads.events(machine.id)
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
    found = machine_reads.series_set(machine.id, sensors, start, end) if sensors else {}
    columns = st.columns(2) if len(sensors) > 1 else [st.container()]
    for index, name in enumerate(sensors):
        with columns[index % len(columns)]:
            _trend(machine, name, found[name], events, (start, end), range_label, tz)
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
    machine_reads.forget_events()
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


def _drivers(machine_id: int) -> list[str]:
    """The sensors driving the machine's current prediction, most first (none if the API failed:
    the page says so where it shows the prediction)."""
    try:
        return [driver.sensor for driver in health_session.machine_health(machine_id).top_sensors]
    except ApiError:
        return []


def machine_page() -> None:
    st.title("Machine")
    machines = session.machines_or_explain(picker=True)
    if machines is None:
        return
    path = _pick_machine(machines)
    try:
        machine = machine_reads.machine(path)
    except ApiError as exc:
        session.show_api_error(exc, f"read {path}")
        return
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
        shown = default_trends(names, _drivers(machine.id), DEFAULT_TRENDS)
        sensors = right.multiselect("Sensors", names, default=shown, key=f"machine_sensors_{machine.id}")
        if len(shown) < len(names):
            right.caption(
                f"{len(shown)} of {len(names)} sensors at first, those driving the prediction first: "
                "add others here."
            )
    st.fragment(_charts, run_every=session.refresh_every())(machine.path, sensors, range_label)
    _event_form(machine)


machine_page()
