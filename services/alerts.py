"""The alert lifecycle, shared by the jobs that raise alerts and the API where engineers handle them.

States: open → acknowledged → resolved (open → resolved directly too). A machine has at most one
active (open or acknowledged) alert per rule: raising it again bumps its `count` and `last_seen_at`.
A resolved alert is never reopened; the next occurrence opens a new alert. Every step but a repeat
is written to the alert's history (`alert_events`), which the notification job fans out from.
Shelving holds an active alert's notifications back until it expires; it changes nothing else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db.repositories import alerts as repo
from db.tables import Alert, AlertEvent
from db.tables.predictions import OUTCOMES, SEVERITIES
from services import events

SYSTEM = "system"


def severity_rank(severity: str) -> int:
    """info 0 < warning 1 < critical 2."""
    return SEVERITIES.index(severity)


def record(
    session: Session, alert: Alert, kind: str, actor: str, now: datetime, comment: str | None = None
) -> AlertEvent:
    """Append one step to the alert's history."""
    held = kind not in ("resolved", "unshelved") and is_shelved(alert, now)
    event = AlertEvent(
        alert_id=alert.id, at=now, kind=kind, actor=actor, severity=alert.severity, comment=comment, held=held
    )
    session.add(event)
    session.flush()
    return event


def _record_many(session: Session, alert_ids: Iterable[int], kind: str, actor: str, now: datetime) -> None:
    for alert_id in alert_ids:
        session.add(AlertEvent(alert_id=alert_id, at=now, kind=kind, actor=actor))
    session.flush()


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
    detail: dict[str, Any] | None = None,
) -> Alert:
    """Open an alert, or bump the active one of this machine (or, with machine_id None, line) and rule.

    A change of severity is recorded in the history (and so notified); a plain repeat only counts.
    """
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
            detail=detail or {},
        )
        session.add(alert)
        session.flush()
        record(session, alert, "opened", SYSTEM, now, message)
        return alert
    change = severity_rank(severity) - severity_rank(alert.severity)
    alert.count += 1
    alert.last_seen_at = now
    alert.message = message
    alert.severity = severity
    if detail is not None:
        alert.detail = detail
    session.flush()
    if change:
        record(session, alert, "severity_raised" if change > 0 else "severity_lowered", SYSTEM, now, message)
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


def _require_active(alert: Alert, action: str) -> None:
    if alert.state == "resolved":
        raise AlertStateError(f"alert {alert.id} is resolved; only an active alert can be {action}")


def comment(session: Session, alert_id: int | Alert, by: str, text: str, now: datetime) -> Alert:
    """Add a comment (to an alert in any state: notes after resolution are history too)."""
    alert = _load(session, alert_id)
    _add_comment(alert, text)
    record(session, alert, "commented", by, now, text)
    return alert


def shelve(
    session: Session, alert_id: int | Alert, by: str, until: datetime, now: datetime, comment: str | None
) -> Alert:
    """Hold the active alert's notifications back until `until` (which must be in the future)."""
    alert = _load(session, alert_id)
    _require_active(alert, "shelved")
    if until <= now:
        raise AlertStateError(f"shelving must end in the future; {until.isoformat()} is not after now")
    alert.shelved_until = until
    alert.shelved_by = by
    _add_comment(alert, comment)
    record(session, alert, "shelved", by, now, comment or f"until {until.isoformat()}")
    return alert


def unshelve(session: Session, alert_id: int | Alert, by: str, now: datetime) -> Alert:
    """End the shelving now (by hand, or by `system` when it expires)."""
    alert = _load(session, alert_id)
    if alert.shelved_until is None:
        raise AlertStateError(f"alert {alert.id} is not shelved")
    alert.shelved_until = None
    alert.shelved_by = None
    record(session, alert, "unshelved", by, now)
    return alert


def escalate(session: Session, alert: Alert, now: datetime, reason: str) -> Alert:
    """Mark an unacknowledged alert escalated (once): its escalation recipients hear of it."""
    alert.escalated_at = now
    record(session, alert, "escalated", SYSTEM, now, reason)
    return alert


def record_outcome(
    session: Session,
    alert_id: int | Alert,
    outcome: str,
    by: str,
    now: datetime,
    *,
    fault_code: str | None = None,
    work_order_id: str | None = None,
    note: str = "",
    done_at: datetime | None = None,
) -> Alert:
    """What maintenance found for a machine's alert; the alert is resolved if it is still active.

    `fault_found` and `part_replaced` become a `maintenance` event at `done_at` (default now): work was
    done before the machine failed, so the next RUL training ends that run there, censored (a found
    fault is a potential failure, not a functional one). `no_fault_found` records no event and counts
    the alert as a false alarm. An outcome is given once.
    """
    if outcome not in OUTCOMES:
        raise AlertStateError(f"outcome must be one of {', '.join(OUTCOMES)}; got {outcome!r}")
    alert = _load(session, alert_id)
    if alert.machine_id is None:
        raise AlertStateError(f"alert {alert.id} is a line's alert; outcomes are for a machine's alerts")
    if alert.outcome is not None:
        raise AlertStateError(
            f"alert {alert.id} already has the outcome {alert.outcome} (by {alert.outcome_by})"
        )
    alert.outcome, alert.fault_code, alert.work_order_id = outcome, fault_code, work_order_id
    alert.outcome_at, alert.outcome_by = now, by
    words = " ".join(part for part in (outcome.replace("_", " "), fault_code or "", note) if part)
    if outcome != "no_fault_found":
        events.record_event(
            session, alert.machine_id, "maintenance", done_at or now,
            f"alert {alert.id} ({alert.rule}): {words}"[: events.MAX_NOTE_CHARS], work_order_id, by,
        )  # fmt: skip
    record(session, alert, "outcome", by, now, words)
    if alert.state != "resolved":
        resolve(session, alert, by, now)
    return alert


def is_shelved(alert: Alert, now: datetime) -> bool:
    return alert.shelved_until is not None and alert.shelved_until > now


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
    record(session, alert, "acknowledged", by, now, comment)
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
    alert.shelved_until = None
    _add_comment(alert, comment)
    record(session, alert, "resolved", by, now, comment)
    return alert


def resolve_cleared_lines(
    session: Session, rule: str, still_active_line_ids: Collection[int], now: datetime, by: str = SYSTEM
) -> int:
    """Resolve the active line alerts of `rule` on every line where the condition no longer holds."""
    resolved = repo.resolve_line_alerts_except(session, rule, still_active_line_ids, by, now)
    _record_many(session, resolved, "resolved", by, now)
    return len(resolved)


def resolve_cleared(
    session: Session, rule: str, still_active_machine_ids: Collection[int], now: datetime, by: str = SYSTEM
) -> int:
    """Resolve the active alerts of `rule` on every machine where the condition no longer holds."""
    resolved = repo.resolve_active_except(session, rule, still_active_machine_ids, by, now)
    _record_many(session, resolved, "resolved", by, now)
    return len(resolved)
