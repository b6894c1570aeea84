"""Alerts for the API: list (filters, cursor pages), one with history, and the lifecycle actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.alerts.schemas import (
    AlertDetailOut,
    AlertEventOut,
    AlertOut,
    NotificationOut,
    OutcomeIn,
    ShelveIn,
)
from api.errors import conflict, invalid, not_found
from api.machines.service import find_machine
from api.pagination import Page, decode_id_cursor, encode_cursor, page_size
from api.quality.service import find_line_path
from db.base import utcnow
from db.repositories import alerts as repo
from db.tables import Alert
from services import alerts
from services.events import EventError

STATES: dict[str, tuple[str, ...]] = {
    "open": ("open",),
    "acknowledged": ("acknowledged",),
    "resolved": ("resolved",),
    "active": repo.ACTIVE_STATES,
}


def list_alerts(
    session: Session,
    *,
    state: str | None,
    severity: str | None,
    rule: str | None,
    line: str | None,
    machine: str | None,
    shelved: bool | None,
    opened_after: datetime | None,
    opened_before: datetime | None,
    cursor: str | None,
    limit: int | None,
    max_page: int,
) -> Page[AlertOut]:
    size = page_size(limit, max_page, "alerts")
    where = repo.AlertFilter(
        states=STATES[state] if state is not None else None,
        severity=severity,
        rule=rule,
        line_id=find_line_path(session, line, "query.line").id if line is not None else None,
        machine_id=find_machine(session, machine).id if machine is not None else None,
        shelved=shelved,
        shelved_at=utcnow(),
        opened_after=opened_after,
        opened_before=opened_before,
    )
    rows = repo.list_alerts(session, where, decode_id_cursor(cursor) or None, size + 1)
    page = rows[:size]
    next_cursor = encode_cursor(page[-1]["id"]) if len(rows) > size else None
    # Validated in one call (in Rust): much cheaper than a model per row built in Python.
    return Page[AlertOut].model_validate({"items": page, "next_cursor": next_cursor})


def get_alert(session: Session, alert_id: int) -> AlertDetailOut:
    row = repo.get_shown(session, alert_id)
    if row is None:
        raise not_found(f"alert {alert_id} does not exist")
    return AlertDetailOut(
        **row,
        history=[
            AlertEventOut.model_validate(e, from_attributes=True) for e in repo.history(session, alert_id)
        ],
        notifications=[
            NotificationOut.model_validate(n, from_attributes=True)
            for n in repo.notifications_of(session, alert_id)
        ],
    )


def _act(session: Session, alert_id: int, action: Callable[[datetime], Alert]) -> AlertDetailOut:
    """Run a lifecycle step; its refusals become 404 and 409 with the reason."""
    try:
        action(utcnow())
    except alerts.AlertNotFoundError as exc:
        raise not_found(str(exc)) from exc
    except (alerts.AlertStateError, EventError) as exc:
        raise conflict(str(exc)) from exc
    return get_alert(session, alert_id)


def acknowledge(session: Session, alert_id: int, by: str, comment: str | None) -> AlertDetailOut:
    return _act(session, alert_id, lambda now: alerts.acknowledge(session, alert_id, by, comment, now))


def resolve(session: Session, alert_id: int, by: str, comment: str | None) -> AlertDetailOut:
    return _act(session, alert_id, lambda now: alerts.resolve(session, alert_id, by, now, comment))


def add_comment(session: Session, alert_id: int, by: str, text: str) -> AlertDetailOut:
    return _act(session, alert_id, lambda now: alerts.comment(session, alert_id, by, text, now))


def shelve(session: Session, alert_id: int, by: str, body: ShelveIn) -> AlertDetailOut:
    def step(now: datetime) -> Alert:
        until = body.until if body.until is not None else now + timedelta(minutes=body.minutes or 0)
        return alerts.shelve(session, alert_id, by, until, now, body.comment)

    return _act(session, alert_id, step)


def unshelve(session: Session, alert_id: int, by: str) -> AlertDetailOut:
    return _act(session, alert_id, lambda now: alerts.unshelve(session, alert_id, by, now))


def record_outcome(session: Session, alert_id: int, by: str, body: OutcomeIn) -> AlertDetailOut:
    if body.outcome == "fault_found" and body.fault_code is None:
        raise invalid("body.fault_code: say which fault was found")
    return _act(
        session,
        alert_id,
        lambda now: alerts.record_outcome(
            session, alert_id, body.outcome, by, now, fault_code=body.fault_code,
            work_order_id=body.work_order_id, note=body.note, done_at=body.done_at,
        ),
    )  # fmt: skip
