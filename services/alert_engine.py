"""One step of the alert engine: given the severity a rule now calls for, open, raise, lower or resolve.

Worsening (opening an alert or raising its severity) waits until the condition has held for the
rule's minimum duration; the level that has held for the whole wait is the one raised. Improving is
immediate, since `alert_rules.severity_for` has already applied the hysteresis. A `held` machine (a
sensor of it is unhealthy, or it is in planned downtime) gets no new or worse alert.

`advance` is that decision on plain values; the backtest replays history with it alone.
`apply_severity` makes it on the database: the active alert, and the wait in `alert_conditions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from db.repositories import alert_rules as rules_repo
from db.repositories import alerts as alerts_repo
from services import alerts

Outcome = Literal["opened", "raised", "lowered", "repeated", "resolved", "pending", "held", "none"]


@dataclass(frozen=True)
class RuleState:
    """One machine's state under one rule: its alert's severity (None: no alert), and a pending wait."""

    severity: str | None = None
    pending: str | None = None
    since: datetime | None = None


def advance(
    state: RuleState, target: str | None, now: datetime, min_duration_s: float, held: bool = False
) -> tuple[RuleState, Outcome]:
    """The state after the rule called for `target` at `now`, and what happened to the alert."""
    current = state.severity
    if target is None:
        return RuleState(), "none" if current is None else "resolved"
    if current is not None and alerts.severity_rank(target) <= alerts.severity_rank(current):
        return RuleState(target), "repeated" if target == current else "lowered"
    if held:
        return RuleState(current), "held"
    pending, since = state.pending, state.since
    if pending is None or since is None:
        pending, since = target, now
    elif alerts.severity_rank(target) < alerts.severity_rank(pending):
        pending = target  # only this lower level has held since `since`
    if (now - since).total_seconds() < min_duration_s:
        return RuleState(current, pending, since), "pending"
    return RuleState(pending), "opened" if current is None else "raised"


def apply_severity(
    session: Session,
    machine_id: int,
    rule: str,
    target: str | None,
    min_duration_s: float,
    now: datetime,
    message: str,
    detail: dict[str, Any],
    held: bool = False,
) -> Outcome:
    """Bring the machine's alert of `rule` to `target` (None: no alert); what happened."""
    active = alerts_repo.find_active(session, machine_id, rule)
    condition = rules_repo.get_condition(session, machine_id, rule)
    state = RuleState(
        active.severity if active is not None else None,
        condition.severity if condition is not None else None,
        condition.since if condition is not None else None,
    )
    after, outcome = advance(state, target, now, min_duration_s, held)
    if after.pending is None:
        rules_repo.clear_condition(session, machine_id, rule)
    elif condition is None:
        rules_repo.start_condition(session, machine_id, rule, after.pending, now)
    else:
        condition.severity = after.pending
    if outcome == "resolved" and active is not None:
        alerts.resolve(session, active, alerts.SYSTEM, now)
    elif outcome in ("opened", "raised", "lowered", "repeated") and after.severity is not None:
        alerts.raise_or_update(session, machine_id, rule, after.severity, message, now, detail=detail)
    return outcome
