"""Backtest: what the alert rules would have said over stored history, against the failures recorded.

For every step of [start, end) the machines of one type are scored as the scoring job would have
scored them then (`score_machines.score_scope` on the readings up to that time, with today's champion
models), and the RUL and failure-probability rules are stepped with the engine's own decision
(`alert_rules.severity_for`, `alert_engine.advance`) and the given thresholds. Nothing is written:
the caller rolls the transaction back. An alert counts as:

- a catch when a failure follows it within `horizon`, at least `lead` after it opened;
- late when a failure follows within `lead`: too late to act;
- a false alarm when no failure follows within `horizon`.

A failure with no alert opened in the `horizon` before it is missed. The cost is missed failures
times the cost of a failure, plus false alarms times the cost of a needless inspection.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.repositories.assets import sensor_positions_of
from db.tables import Machine, MachineEvent
from jobs.score_machines import score_scope
from jobs.training_data import scope_column
from plantwatch.settings import Settings
from services.alert_engine import RuleState, advance
from services.alert_rules import RULES, Thresholds, severity_for

PREDICTION_FIELDS = {"rul_low": "rul", "failure_probability_high": "failure_probability"}


@dataclass
class BacktestResult:
    machines: int
    steps: int
    failures: int = 0
    caught: int = 0
    late: int = 0
    missed: int = 0
    false_alarms: int = 0
    leads_h: list[float] = field(default_factory=list)  # first alert to failure, per caught failure
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def figures(self, failure_cost: float, false_alarm_cost: float) -> dict[str, Any]:
        return {
            "machines": self.machines, "steps": self.steps, "failures": self.failures,
            "alerts": len(self.alerts), "caught": self.caught, "late": self.late, "missed": self.missed,
            "false_alarms": self.false_alarms,
            "recall": round(self.caught / self.failures, 4) if self.failures else None,
            "median_lead_h": round(statistics.median(self.leads_h), 2) if self.leads_h else None,
            "cost": self.missed * failure_cost + self.false_alarms * false_alarm_cost,
        }  # fmt: skip


def run_backtest(
    session: Session,
    settings: Settings,
    scope: str,
    start: datetime,
    end: datetime,
    thresholds: dict[str, Thresholds],
    step: timedelta,
    lead: timedelta,
    horizon: timedelta,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Replay [start, end) of `scope`'s machines with `thresholds` of rul_low and failure_probability_high."""
    machines = list(session.scalars(select(Machine.id).where(scope_column() == scope).order_by(Machine.id)))
    if not machines:
        raise ValueError(f"no machine has type {scope!r}")
    positions = sensor_positions_of(session, machines)
    total = max(0, int((end - start) / step))
    states: dict[tuple[int, str], RuleState] = {}
    opened: list[dict[str, Any]] = []
    for k in range(total):
        now = start + k * step
        for prediction in score_scope(session, settings, now, scope, positions):
            for rule, limits in thresholds.items():
                value = getattr(prediction, PREDICTION_FIELDS[rule])
                if value is None or prediction.status == "withheld" or not limits.enabled:
                    continue
                key = (prediction.machine_id, rule)
                state = states.get(key, RuleState())
                target = severity_for(RULES[rule].worse, value, limits, state.severity)
                states[key], outcome = advance(state, target, now, limits.min_duration_s)
                if outcome == "opened":
                    opened.append({
                        "machine_id": prediction.machine_id, "rule": rule, "opened_at": now,
                        "severity": states[key].severity, "value": round(float(value), 3),
                    })  # fmt: skip
        if progress is not None:
            progress(k + 1, total)
    failures = session.execute(
        select(MachineEvent.machine_id, MachineEvent.ts).where(
            MachineEvent.machine_id.in_(machines), MachineEvent.kind == "failure",
            MachineEvent.ts >= start, MachineEvent.ts < end + horizon,
        )
    ).all()  # fmt: skip
    return _judge(BacktestResult(len(machines), total, alerts=opened), failures, start, end, lead, horizon)


def _judge(
    result: BacktestResult,
    failures: Any,
    start: datetime,
    end: datetime,
    lead: timedelta,
    horizon: timedelta,
) -> BacktestResult:
    by_machine: dict[int, list[datetime]] = {}
    for machine_id, ts in failures:
        by_machine.setdefault(machine_id, []).append(ts)
    for alert in result.alerts:
        after = [ts for ts in by_machine.get(alert["machine_id"], []) if ts >= alert["opened_at"]]
        following = min(after, default=None)
        if following is None or following - alert["opened_at"] > horizon:
            alert["verdict"] = "false alarm"
            result.false_alarms += 1
        else:
            alert["lead_h"] = round((following - alert["opened_at"]).total_seconds() / 3600, 2)
            alert["verdict"] = "in time" if following - alert["opened_at"] >= lead else "late"
    for machine_id, stamps in by_machine.items():
        for ts in stamps:
            if not start + lead <= ts < end:
                continue  # too early in the replay for any alert to have been in time
            result.failures += 1
            before = [a["opened_at"] for a in result.alerts
                      if a["machine_id"] == machine_id and ts - horizon <= a["opened_at"] <= ts]  # fmt: skip
            if not before:
                result.missed += 1
            elif ts - min(before) >= lead:
                result.caught += 1
                result.leads_h.append((ts - min(before)).total_seconds() / 3600)
            else:
                result.late += 1
    return result
