"""One step of the alert engine: given the severity a rule now calls for, open, raise, lower or resolve.

Worsening (opening an alert or raising its severity) waits until the condition has held for the
rule's minimum duration, tracked in `alert_conditions`; the level that has held for the whole wait is
the one raised. Improving is immediate, since `alert_rules.severity_for` has already applied the
hysteresis. A `held` machine (one of its sensors is unhealthy) gets no new or worse alert from a
prediction rule: its figures are not to be trusted, and the sensor-health alert says why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from db.repositories import alert_rules as rules_repo
from db.repositories import alerts as alerts_repo
from services import alerts
from services.alert_rules import Thresholds

Outcome = Literal["opened", "raised", "lowered", "repeated", "resolved", "pending", "held", "none"]


def apply_severity(
    session: Session,
    machine_id: int,
    rule: str,
    target: str | None,
    thresholds: Thresholds,
    now: datetime,
    message: str,
    detail: dict[str, Any],
    held: bool = False,
) -> Outcome:
    """Bring the machine's alert of `rule` to `target` (None: no alert); what happened."""
    active = alerts_repo.find_active(session, machine_id, rule)
    current = active.severity if active is not None else None
    if target is None:
        rules_repo.clear_condition(session, machine_id, rule)
        if active is None:
            return "none"
        alerts.resolve(session, active, alerts.SYSTEM, now)
        return "resolved"
    if current is not None and alerts.severity_rank(target) <= alerts.severity_rank(current):
        rules_repo.clear_condition(session, machine_id, rule)
        alerts.raise_or_update(session, machine_id, rule, target, message, now, detail=detail)
        return "repeated" if target == current else "lowered"
    if held:
        rules_repo.clear_condition(session, machine_id, rule)
        return "held"
    condition = rules_repo.get_condition(session, machine_id, rule)
    if condition is None:
        condition = rules_repo.start_condition(session, machine_id, rule, target, now)
    elif alerts.severity_rank(target) < alerts.severity_rank(condition.severity):
        condition.severity = target  # only this lower level has held since `since`
    if (now - condition.since).total_seconds() < thresholds.min_duration_s:
        return "pending"
    severity = condition.severity
    rules_repo.clear_condition(session, machine_id, rule)
    alerts.raise_or_update(session, machine_id, rule, severity, message, now, detail=detail)
    return "opened" if current is None else "raised"
