"""The Machine page's health sections: the current prediction (status, RUL and its interval, failure
probability, the sensors driving it, why it is degraded or withheld), predicted RUL over the chosen
range with the events marked, and the machine's alerts in that range as a timeline and a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

import pandas as pd
import streamlit as st

from dashboard import health_session, session
from dashboard.api_error import ApiError
from dashboard.fleet_grid import BAND_LABELS, NO_PREDICTION_SHORT, band, interval_text
from dashboard.health_charts import alert_timeline_chart, drivers_chart, rul_chart
from dashboard.records import Alert, Event, Health, Machine

ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
NO_MODEL_HINT = (
    "Predictions come from the `score_machines` job once a RUL model is trained for this machine's "
    "type (see the Models page)."
)


def alert_url(alert_id: int) -> str:
    """Relative link to the Alerts page about one alert."""
    return f"alerts?alert={alert_id}"


def alerts_table(alerts: Sequence[Alert], tz: tzinfo) -> pd.DataFrame:
    def when(ts: datetime | None) -> str:
        return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M") if ts else ""

    rows = [
        {
            "id": a.id,
            "severity": f"{ICONS.get(a.severity, '')} {a.severity}",
            "rule": a.rule,
            "message": a.message,
            "state": a.state,
            "opened": when(a.opened_at),
            "acknowledged": f"{when(a.acknowledged_at)} {a.acknowledged_by or ''}".strip(),
            "resolved": f"{when(a.resolved_at)} {a.resolved_by or ''}".strip(),
            "alert": alert_url(a.id),
        }
        for a in alerts
    ]
    return pd.DataFrame(rows, columns=["id", "severity", "rule", "message", "state", "opened",
                                       "acknowledged", "resolved", "alert"])  # fmt: skip


def _metrics(health: Health) -> None:
    columns = st.columns([1.3, 1, 1, 1])
    # "n/a" as the other figures say it: "no prediction" does not fit a laptop's column (the caption
    # below says why there is none).
    shown = band(health)
    label = BAND_LABELS[shown] if shown != "none" else NO_PREDICTION_SHORT
    columns[0].metric("Health", label, help=f"Prediction status: {health.status}")
    interval = interval_text(health)
    columns[1].metric(
        "Predicted RUL",
        f"{health.rul:.0f}" if health.rul is not None else "n/a",
        help=f"Interval {interval} cycles" if interval else None,
    )
    horizon = f" within {health.horizon:g}" if health.horizon is not None else ""
    probability = health.failure_probability
    columns[2].metric(f"P(failure{horizon})", f"{probability:.0%}" if probability is not None else "n/a")
    columns[3].metric(
        "Health score", f"{health.health_score:.0f}" if health.health_score is not None else "n/a"
    )
    if interval:
        st.caption(f"RUL interval {interval} cycles.")


def current_prediction(machine: Machine, tz: tzinfo) -> Health | None:
    """The machine's latest prediction: figures, reasons, and the sensors driving it."""
    try:
        health = health_session.machine_health(machine.id)
    except ApiError as exc:
        session.show_api_error(exc, "read the machine's health")
        return None
    _metrics(health)
    reasons = "; ".join(health.reasons)
    if health.status == "pending":
        # A caption, not a box: a machine without a trained model yet is a normal state, not a fault.
        st.caption(f"No prediction for {machine.path} yet: {reasons or 'not scored yet'}. {NO_MODEL_HINT}")
    elif health.status == "withheld":
        st.warning(f"Prediction withheld: {reasons or 'no reason given'}.")
    elif health.status == "degraded":
        st.warning(f"Degraded prediction: {reasons or 'no reason given'}.")
    if health.made_at is not None:
        st.caption(f"Made {health.made_at.astimezone(tz):%Y-%m-%d %H:%M:%S}.")
    return health


def drivers(health: Health | None) -> None:
    if health is None:
        return
    if health.top_sensors:
        st.vega_lite_chart(spec=drivers_chart(health.top_sensors), key="machine_drivers", width="stretch")
    elif health.status != "pending":
        st.caption("The current prediction names no driving sensors.")


def rul_history(
    machine: Machine,
    current: Health | None,
    events: Sequence[Event],
    times: tuple[datetime, datetime],
    range_label: str,
    tz: tzinfo,
) -> None:
    """Predicted RUL over the range; nothing when the machine was never scored (the caption above
    already says why)."""
    if current is None or current.status == "pending":
        return
    start, end = times
    try:
        history = health_session.predictions(machine.id, start, end)
    except ApiError as exc:
        session.show_api_error(exc, "read the machine's prediction history")
        return
    if not any(h.rul is not None for h in history):
        if history:
            st.info(f"No prediction of the last {range_label} has a RUL (see why above).")
        else:
            st.info(f"No prediction in the last {range_label}: pick a longer range. {NO_MODEL_HINT}")
        return
    limits = health_session.thresholds(machine)
    spec = rul_chart(
        history,
        events=events,
        start=start,
        end=end,
        tz=tz,
        warning=limits.rul_warning,
        critical=limits.rul_critical,
    )
    st.vega_lite_chart(spec=spec, key="machine_rul", width="stretch")
    st.caption(
        "The band is the prediction interval; dotted lines are the warning and critical RUL thresholds"
        f"{limits.source_note()}."
    )


def alert_timeline(machine: Machine, start: datetime, end: datetime, range_label: str, tz: tzinfo) -> None:
    st.subheader("Alerts")
    try:
        alerts = health_session.machine_alerts(machine.id, start, end)
    except ApiError as exc:
        session.show_api_error(exc, "list the machine's alerts")
        return
    if not alerts:
        st.caption(f"No alert on this machine in the last {range_label}.")
        return
    spec = alert_timeline_chart(alerts, start=start, end=end, tz=tz)
    st.vega_lite_chart(spec=spec, key="machine_alert_timeline", width="stretch")
    st.dataframe(
        alerts_table(alerts, tz),
        hide_index=True,
        width="stretch",
        column_config={"alert": st.column_config.LinkColumn("alert", display_text="open in Alerts ↗")},
    )
