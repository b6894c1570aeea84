"""Alerts page: open and recent alerts with filters (state, severity, rule, line); one alert's history;
acknowledge or resolve one with a comment. `?alert=<id>` (the Machine page's links) picks that alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import ops_session, session
from dashboard.api_error import ApiError
from dashboard.records import Alert

STATES = {"Active (open or acknowledged)": "active", "Open": "open", "Acknowledged": "acknowledged",
          "Resolved": "resolved", "All": None}  # fmt: skip
SEVERITIES = {"All": None, "Critical": "critical", "Warning": "warning", "Info": "info"}
ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
HISTORY_PICK = "alert_history_pick"

FLASH = "alerts_flash"  # a message for the next run of the page
SHOWN = 200  # the newest alerts a page shows


def _table(alerts: list[Alert]) -> pd.DataFrame:
    tz = session.display_tz()
    return pd.DataFrame(
        [
            {
                "id": a.id,
                "severity": f"{ICONS.get(a.severity, '')} {a.severity}",
                "subject": a.machine or a.line,
                "rule": a.rule,
                "message": a.message,
                "state": a.state
                + (" (shelved)" if a.shelved_until and a.shelved_until > datetime.now(UTC) else ""),
                "opened": a.opened_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                "seen": a.count,
                "acknowledged by": a.acknowledged_by or "",
            }
            for a in alerts
        ]
    )


def _all_or(chosen: object) -> str | None:
    return None if chosen in (None, "All") else str(chosen)


def _label(alert: Alert) -> str:
    return f"#{alert.id} {alert.severity} {alert.rule} on {alert.machine or alert.line}"


def _history(alerts: list[Alert]) -> None:
    """The steps of the alert named in the URL, or picked here."""
    st.subheader("History")
    labels = {_label(a): a for a in alerts}
    wanted = st.query_params.get("alert")
    named = next((label for label, a in labels.items() if str(a.id) == wanted), None)
    if named is not None:
        st.session_state[HISTORY_PICK] = named
    elif st.session_state.get(HISTORY_PICK) not in labels:
        st.session_state[HISTORY_PICK] = next(iter(labels))
    chosen = labels[str(st.selectbox("Alert", list(labels), key=HISTORY_PICK))]
    st.query_params["alert"] = str(chosen.id)
    try:
        steps = ops_session.client().alert_history(chosen.id)
    except ApiError as exc:
        session.show_api_error(exc, "read the alert's history")
        return
    tz = session.display_tz()
    rows = [
        {"when": s.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), "what": s.kind, "who": s.actor,
         "severity": s.severity or "", "comment": s.comment or ""}
        for s in steps
    ]  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="alert_history")


def _act(alerts: list[Alert]) -> None:
    active = [a for a in alerts if a.state != "resolved"]
    if not active:
        return
    st.subheader("Act on an alert")
    allowed = ops_session.may("engineer")
    labels = {_label(a): a for a in active}
    with st.form("alert_action", clear_on_submit=True):
        chosen = st.selectbox("Alert", list(labels), key="alert_choice")
        comment = st.text_input("Comment (what you found or did)", key="alert_comment", max_chars=2000)
        left, right = st.columns(2)
        acknowledge = left.form_submit_button("Acknowledge", width="stretch", disabled=not allowed)
        resolve = right.form_submit_button("Resolve", width="stretch", disabled=not allowed)
    if not allowed:
        ops_session.permission_note("engineer", "acknowledge and resolve alerts")
    action = "acknowledge" if acknowledge else "resolve" if resolve else None
    if action is None or chosen is None:
        return
    alert = labels[chosen]
    try:
        session.client().act_on_alert(alert.id, action, comment)
    except ApiError as exc:
        session.show_api_error(exc, f"{action} alerts")
        return
    # Said on the next run, which shows the alert's new state (this run drew the table before the action).
    st.session_state[FLASH] = (
        f"Alert #{alert.id} {'acknowledged' if action == 'acknowledge' else 'resolved'}."
    )
    st.rerun()


def alerts_body() -> None:
    if not session.require_key():
        return
    if flash := st.session_state.pop(FLASH, None):
        st.success(flash)
    columns = st.columns(4)
    state = STATES[str(columns[0].selectbox("State", list(STATES), key="alerts_state"))]
    severity = SEVERITIES[str(columns[1].selectbox("Severity", list(SEVERITIES), key="alerts_severity"))]
    rules, lines = ops_session.alert_filters()
    rule = _all_or(columns[2].selectbox("Rule", ["All", *rules], key="alerts_rule"))
    line = _all_or(columns[3].selectbox("Line", ["All", *lines], key="alerts_line"))
    try:
        alerts, more = session.client().alerts(
            state=state, severity=severity, rule=rule, line=line, limit=SHOWN
        )
    except ApiError as exc:
        session.show_api_error(exc, "list alerts")
        return
    counts = st.columns(3)
    counts[0].metric("Shown", f"{len(alerts)}+" if more else len(alerts))
    counts[1].metric(
        "Critical (shown)" if more else "Critical", sum(a.severity == "critical" for a in alerts)
    )
    counts[2].metric(
        "Unacknowledged (shown)" if more else "Unacknowledged", sum(a.state == "open" for a in alerts)
    )
    if more:
        st.warning(
            f"More alerts match than the newest {SHOWN} shown here: choose a severity, rule or line to see "
            "the others (the Fleet page counts every open alert)."
        )
    if not alerts:
        st.info("No alert matches these filters. Alerts open when a rule fires (docs/alerts.md).")
        return
    st.dataframe(_table(alerts), hide_index=True, width="stretch")
    _history(alerts)
    _act(alerts)


st.title("Alerts")
# The page's data refreshes itself (PLANTWATCH_DASHBOARD_REFRESH_S); widgets keep their state.
st.fragment(alerts_body, run_every=session.refresh_every())()
