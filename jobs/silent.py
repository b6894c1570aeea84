"""Silent machines: alert on machines that stopped reporting, resolve the alert when they report again."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db.repositories.alert_rules import list_rules
from db.repositories.assets import last_seen_of_active_machines, lines_of_active_machines
from db.repositories.downtime import machines_in_downtime
from plantwatch.settings import Settings
from services import alerts
from services.alert_rules import ThresholdIndex, effective_thresholds, severity_for

RULE = "silent"

log = logging.getLogger(__name__)


def human_duration(seconds: float) -> str:
    """`45 s`, `7 min`, `3 h`, `2 d`: rounded down, as an engineer reads it on an alert."""
    whole = int(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 2 * 3600:
        return f"{whole // 60} min"
    if whole < 2 * 86400:
        return f"{whole // 3600} h"
    return f"{whole // 86400} d"


def silent_machines(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """Raise or update a `silent` alert per machine without a reading for longer than its threshold.

    The threshold is the `silent` rule's for the machine (its own, its line's, the plant's, else
    `silent_after_s`; a `critical` threshold makes longer silences critical; a disabled rule raises
    nothing). Machines never seen (no reading yet), retired machines and machines in planned downtime
    (silence is expected there) are not alerted; active `silent` alerts of the others that reported
    again (or were retired) are resolved by `system`.
    """
    machines = last_seen_of_active_machines(session)
    line_of = lines_of_active_machines(session)
    rules = ThresholdIndex(list_rules(session, RULE))
    silent: list[int] = []
    opened = 0
    downtime = machines_in_downtime(session, now)
    for machine_id, path, last_seen in machines:
        if last_seen is None or machine_id in downtime or machine_id not in line_of:
            continue
        thresholds = effective_thresholds(rules, RULE, machine_id, line_of[machine_id], settings)
        age = (now - last_seen).total_seconds()
        severity = severity_for("above", age, thresholds, None) if thresholds.enabled else None
        if severity is None or age == thresholds.warning:  # silent for *longer* than the threshold
            continue
        silent.append(machine_id)
        limit = thresholds.critical if severity == "critical" else thresholds.warning
        message = f"no reading for {human_duration(age)} (threshold {human_duration(limit or 0)})"
        alert = alerts.raise_or_update(session, machine_id, RULE, severity, message, now)
        if alert.count == 1:
            opened += 1
            log.warning("machine %s is silent: %s", path, message)
    resolved = alerts.resolve_cleared(session, RULE, silent, now)
    if resolved:
        log.info("%d silent machine(s) report again: alerts resolved", resolved)
    return {
        "checked": sum(1 for _, _, seen in machines if seen is not None),
        "silent": len(silent),
        "opened": opened,
        "updated": len(silent) - opened,
        "resolved": resolved,
    }
