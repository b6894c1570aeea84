"""The alert engine's job (every `alert_interval_s`): sensor health, prediction rules, escalation, shelving.

Machines in planned downtime get no new or worse alert. Prediction rules read each active machine's
latest prediction. A prediction that is withheld, has no
value, or is older than three scoring periods changes nothing: the alert stays as it is until there is
a figure to judge (a machine gone quiet has its `silent` alert). Alerts of retired machines are
resolved. Open alerts nobody acknowledged within `alert_escalate_after_s` are escalated once, and
expired shelving ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from db.repositories import alert_rules as rules_repo
from db.repositories import alerts as alerts_repo
from db.repositories.assets import lines_of_active_machines
from db.repositories.downtime import machines_in_downtime
from db.repositories.predictions import latest_for_machines
from db.tables import Prediction
from jobs.sensor_health import evaluate_sensor_health
from jobs.silent import human_duration
from plantwatch.settings import Settings
from services import alerts
from services.alert_engine import apply_severity
from services.alert_rules import (
    RULES,
    SENSOR_HEALTH_RULES,
    ThresholdIndex,
    Thresholds,
    effective_thresholds,
    severity_for,
)

PREDICTION_FIELDS = {"rul_low": "rul", "failure_probability_high": "failure_probability"}


def _message(rule: str, prediction: Prediction, target: str | None, thresholds: Thresholds) -> str:
    threshold = thresholds.critical if target == "critical" else thresholds.warning
    if rule == "rul_low":
        interval = ""
        if prediction.rul_low is not None and prediction.rul_high is not None:
            interval = f" (90% interval {prediction.rul_low:.0f} to {prediction.rul_high:.0f})"
        return f"predicted RUL {prediction.rul:.0f}{interval}; threshold {threshold:g}"
    probability = prediction.failure_probability
    return f"failure probability within the horizon {probability:.0%}; threshold {threshold:g}"


def _detail(prediction: Prediction, value: float, thresholds: Thresholds) -> dict[str, Any]:
    return {
        "value": value,
        "warning": thresholds.warning,
        "critical": thresholds.critical,
        "thresholds_from": thresholds.source,
        "prediction_id": prediction.id,
        "predicted_at": prediction.made_at.isoformat(),
        "model_version_id": prediction.model_version_id,
        "prediction_status": prediction.status,
        "top_sensors": prediction.detail.get("top_sensors"),
    }


def evaluate_alerts(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    line_of = lines_of_active_machines(session)
    rules = ThresholdIndex(rules_repo.list_rules(session))
    figures: dict[str, Any] = {"machines": len(line_of)}
    downtime = machines_in_downtime(session, now)
    figures["in_downtime"] = len(downtime)
    sensor_figures, unhealthy = evaluate_sensor_health(session, settings, now, rules, line_of, downtime)
    figures.update(sensor_figures)
    figures["held_by_sensor_health"] = len(unhealthy - downtime)
    held = unhealthy | downtime
    predictions = latest_for_machines(session, line_of)
    fresh_after = now - timedelta(seconds=3 * settings.score_interval_s)
    for rule, field in PREDICTION_FIELDS.items():
        active = alerts_repo.active_severities(session, rule)
        pending = rules_repo.pending_machine_ids(session, rule)
        counts: dict[str, int] = {}
        for machine_id, line_id in line_of.items():
            prediction = predictions.get(machine_id)
            value = getattr(prediction, field) if prediction is not None else None
            if prediction is None or value is None or prediction.status == "withheld":
                continue
            if prediction.made_at < fresh_after:
                continue
            thresholds = effective_thresholds(rules, rule, machine_id, line_id, settings)
            current = active.get(machine_id)
            target = (
                severity_for(RULES[rule].worse, value, thresholds, current) if thresholds.enabled else None
            )
            if target is None and current is None and machine_id not in pending:
                continue
            outcome = apply_severity(
                session, machine_id, rule, target, thresholds.min_duration_s, now,
                _message(rule, prediction, target, thresholds), _detail(prediction, value, thresholds),
                held=machine_id in held,
            )  # fmt: skip
            counts[outcome] = counts.get(outcome, 0) + 1
        figures[rule] = counts
    retired = 0
    for rule in (*PREDICTION_FIELDS, *SENSOR_HEALTH_RULES):
        still = {m for m in alerts_repo.active_severities(session, rule) if m in line_of}
        retired += alerts.resolve_cleared(session, rule, still, now)
    figures["resolved_retired"] = retired
    figures["escalated"] = _escalate(session, settings, now)
    ended = alerts_repo.shelving_ended(session, now)
    for alert in ended:
        alerts.unshelve(session, alert, alerts.SYSTEM, now)
    figures["unshelved"] = len(ended)
    return figures


def _escalate(session: Session, settings: Settings, now: datetime) -> int:
    after = settings.alert_escalate_after_s
    due = alerts_repo.unacknowledged_since(session, now - timedelta(seconds=after), now)
    for alert in due:
        alerts.escalate(session, alert, now, f"not acknowledged within {human_duration(after)}")
    return len(due)
