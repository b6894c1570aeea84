"""Alerts page: open and recent alerts with filters; acknowledge or resolve one with a comment."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import session
from dashboard.client import ApiError
from dashboard.records import Alert

STATES = {"Active (open or acknowledged)": "active", "Open": "open", "Acknowledged": "acknowledged",
          "Resolved": "resolved", "All": None}  # fmt: skip
SEVERITIES = {"All": None, "Critical": "critical", "Warning": "warning", "Info": "info"}
ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


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


def _act(alerts: list[Alert]) -> None:
    active = [a for a in alerts if a.state != "resolved"]
    if not active:
        return
    st.subheader("Act on an alert")
    labels = {f"#{a.id} {a.severity} {a.rule} on {a.machine or a.line}": a for a in active}
    with st.form("alert_action", clear_on_submit=True):
        chosen = st.selectbox("Alert", list(labels), key="alert_choice")
        comment = st.text_input("Comment (what you found or did)", key="alert_comment", max_chars=2000)
        left, right = st.columns(2)
        acknowledge = left.form_submit_button("Acknowledge", width="stretch")
        resolve = right.form_submit_button("Resolve", width="stretch")
    action = "acknowledge" if acknowledge else "resolve" if resolve else None
    if action is None or chosen is None:
        return
    alert = labels[chosen]
    try:
        session.client().act_on_alert(alert.id, action, comment)
    except ApiError as exc:
        session.show_api_error(exc, f"{action} alerts")
        return
    st.success(f"Alert #{alert.id} {'acknowledged' if action == 'acknowledge' else 'resolved'}.")


def alerts_body() -> None:
    if not session.require_key():
        return
    left, middle, right = st.columns(3)
    state = STATES[str(left.selectbox("State", list(STATES), key="alerts_state"))]
    severity = SEVERITIES[str(middle.selectbox("Severity", list(SEVERITIES), key="alerts_severity"))]
    line = right.text_input("Line (site/line)", key="alerts_line").strip() or None
    try:
        alerts = session.client().alerts(state=state, severity=severity, line=line, limit=200)
    except ApiError as exc:
        session.show_api_error(exc, "list alerts")
        return
    counts = st.columns(3)
    counts[0].metric("Shown", len(alerts))
    counts[1].metric("Critical", sum(a.severity == "critical" for a in alerts))
    counts[2].metric("Unacknowledged", sum(a.state == "open" for a in alerts))
    if not alerts:
        st.info("No alert matches these filters. Alerts open when a rule fires (docs/alerts.md).")
        return
    st.dataframe(_table(alerts), hide_index=True, width="stretch")
    _act(alerts)


st.title("Alerts")
alerts_body()
