"""The alert lifecycle, shared by the jobs that raise alerts and the API where engineers handle them.

States: open → acknowledged → resolved (open → resolved directly too). A machine has at most one
active (open or acknowledged) alert per rule: raising it again bumps its `count` and `last_seen_at`.
A resolved alert is never reopened; the next occurrence opens a new alert.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from db.repositories import alerts as repo
from db.tables import Alert
from db.tables.predictions import SEVERITIES

SYSTEM = "system"


class AlertNotFoundError(LookupError):
    pass


class AlertStateError(ValueError):
    """The transition is not allowed from the alert's current state."""


def raise_or_update(
    session: Session,
    machine_id: int | None,
    rule: str,
    severity: str,
    message: str,
    now: datetime,
    line_id: int | None = None,
) -> Alert:
    """Open an alert, or bump the active one of this machine (or, with machine_id None, line) and rule."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}; got {severity!r}")
    if machine_id is None and line_id is None:
        raise ValueError("an alert needs a machine or a line")
    repo.lock_rule(session, rule)
    alert = repo.find_active(session, machine_id, rule, line_id)
    if alert is None:
        alert = Alert(
            machine_id=machine_id,
            line_id=line_id,
            rule=rule,
            severity=severity,
            state="open",
            message=message,
            count=1,
            opened_at=now,
            last_seen_at=now,
        )
        session.add(alert)
    else:
        alert.count += 1
        alert.last_seen_at = now
        alert.message = message
        alert.severity = severity
    session.flush()
    return alert


def _load(session: Session, alert_or_id: Alert | int) -> Alert:
    alert_id = alert_or_id.id if isinstance(alert_or_id, Alert) else alert_or_id
    alert = repo.get_alert(session, alert_id, for_update=True)
    if alert is None:
        raise AlertNotFoundError(f"alert {alert_id} does not exist")
    return alert


def _add_comment(alert: Alert, comment: str | None) -> None:
    if comment:
        alert.comment = f"{alert.comment}\n{comment}" if alert.comment else comment


def acknowledge(
    session: Session, alert_id: int | Alert, by: str, comment: str | None, now: datetime
) -> Alert:
    """open → acknowledged: someone is on it."""
    alert = _load(session, alert_id)
    if alert.state != "open":
        raise AlertStateError(f"alert {alert.id} is {alert.state}; only an open alert can be acknowledged")
    alert.state = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = by
    _add_comment(alert, comment)
    session.flush()
    return alert


def resolve(
    session: Session, alert_or_id: Alert | int, by: str, now: datetime, comment: str | None = None
) -> Alert:
    """open or acknowledged → resolved. Resolving a resolved alert is an error (it stays as it was)."""
    alert = _load(session, alert_or_id)
    if alert.state == "resolved":
        raise AlertStateError(f"alert {alert.id} is already resolved (by {alert.resolved_by})")
    alert.state = "resolved"
    alert.resolved_at = now
    alert.resolved_by = by
    _add_comment(alert, comment)
    session.flush()
    return alert


def resolve_cleared_lines(
    session: Session, rule: str, still_active_line_ids: Collection[int], now: datetime, by: str = SYSTEM
) -> int:
    """Resolve the active line alerts of `rule` on every line where the condition no longer holds."""
    return len(repo.resolve_line_alerts_except(session, rule, still_active_line_ids, by, now))


def resolve_cleared(
    session: Session, rule: str, still_active_machine_ids: Collection[int], now: datetime, by: str = SYSTEM
) -> int:
    """Resolve the active alerts of `rule` on every machine where the condition no longer holds."""
    return len(repo.resolve_active_except(session, rule, still_active_machine_ids, by, now))
