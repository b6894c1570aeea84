"""Queries on alerts. The lifecycle rules (open → acknowledged → resolved) live in services/alerts.py."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from db.tables import Alert, AlertEvent, Line, Machine, Notification, Site

ACTIVE_STATES = ("open", "acknowledged")


def lock_rule(session: Session, rule: str) -> None:
    """Serialise raise-or-update of one rule's alerts until the transaction ends.

    There is no unique index on active alerts, so two writers could otherwise both find none and
    open two. One lock per rule, not per machine: a job raising thousands of alerts in one
    transaction would exhaust PostgreSQL's lock table (max_locks_per_transaction) otherwise.
    """
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 7302))"), {"key": f"alert:{rule}"}
    )


def get_alert(session: Session, alert_id: int, *, for_update: bool = False) -> Alert | None:
    query = select(Alert).where(Alert.id == alert_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def find_active(
    session: Session, machine_id: int | None, rule: str, line_id: int | None = None
) -> Alert | None:
    """The open or acknowledged alert of this machine (or, without one, line) and rule, locked."""
    subject = Alert.machine_id == machine_id if machine_id is not None else Alert.line_id == line_id
    return session.scalar(
        select(Alert)
        .where(subject, Alert.rule == rule, Alert.state.in_(ACTIVE_STATES))
        .order_by(Alert.id.desc())
        .limit(1)
        .with_for_update()
    )


def active_machine_ids(session: Session, rule: str) -> set[int]:
    rows = session.scalars(select(Alert.machine_id).where(Alert.rule == rule, Alert.state.in_(ACTIVE_STATES)))
    return {machine_id for machine_id in rows if machine_id is not None}


def resolve_active_except(
    session: Session, rule: str, keep_machine_ids: Collection[int], by: str, now: datetime
) -> list[int]:
    """Resolve every active alert of `rule` whose machine is not in `keep_machine_ids`; their ids."""
    query = update(Alert).where(Alert.rule == rule, Alert.state.in_(ACTIVE_STATES))
    if keep_machine_ids:
        query = query.where(Alert.machine_id.not_in(list(keep_machine_ids)))
    result = session.execute(
        query.values(state="resolved", resolved_at=now, resolved_by=by, shelved_until=None).returning(
            Alert.id
        )
    )
    return [int(alert_id) for alert_id in result.scalars()]


def resolve_line_alerts_except(
    session: Session, rule: str, keep_line_ids: Collection[int], by: str, now: datetime
) -> list[int]:
    """Resolve the active line alerts of `rule` whose line is not in `keep_line_ids`; their ids."""
    query = update(Alert).where(
        Alert.rule == rule, Alert.machine_id.is_(None), Alert.state.in_(ACTIVE_STATES)
    )
    if keep_line_ids:
        query = query.where(Alert.line_id.not_in(list(keep_line_ids)))
    result = session.execute(
        query.values(state="resolved", resolved_at=now, resolved_by=by, shelved_until=None).returning(
            Alert.id
        )
    )
    return [int(alert_id) for alert_id in result.scalars()]


@dataclass(frozen=True)
class AlertFilter:
    """What to list; None: any."""

    states: Collection[str] | None = None
    severity: str | None = None
    rule: str | None = None
    line_id: int | None = None  # a machine's alert on the line, or the line's own
    machine_id: int | None = None
    shelved_at: datetime | None = None  # with `shelved`: judged at this time
    shelved: bool | None = None
    opened_after: datetime | None = None
    opened_before: datetime | None = None


AlertRow = tuple[Alert, str | None, str]  # the alert, its machine's path, its line as site/line
ShownAlert = dict[str, Any]
"""An alert's columns (but its subject's ids and outcome bookkeeping) as plain values, with `machine`
(its machine's path, None for a line's alert) and `line` (site/line): what lists show, read without
building ORM objects."""

_SHOWN = [c for c in Alert.__table__.c if c.name not in ("machine_id", "line_id", "outcome_at", "outcome_by")]


def _with_subject(which: ColumnElement[bool]) -> Select[Any]:
    """The alerts `which` picks, newest first, with their subject."""
    return (
        select(*_SHOWN, Machine.path.label("machine"), (Site.name + "/" + Line.name).label("line"))
        .outerjoin(Machine, Machine.id == Alert.machine_id)
        .join(Line, Line.id == func.coalesce(Machine.line_id, Alert.line_id))
        .join(Site, Site.id == Line.site_id)
        .where(which)
        .order_by(Alert.id.desc())
    )


def list_alerts(session: Session, where: AlertFilter, before_id: int | None, limit: int) -> list[ShownAlert]:
    """Alerts matching `where`, newest first (page backwards with `before_id`)."""
    # The page's ids first, so that only its alerts are joined with their subjects.
    query = select(Alert.id).order_by(Alert.id.desc()).limit(limit)
    if where.states:
        query = query.where(Alert.state.in_(list(where.states)))
    if where.severity is not None:
        query = query.where(Alert.severity == where.severity)
    if where.rule is not None:
        query = query.where(Alert.rule == where.rule)
    if where.line_id is not None:  # a machine's alert is on its machine's line, a line's on its own
        on_line = select(Machine.id).where(Machine.line_id == where.line_id)
        own = and_(Alert.machine_id.is_(None), Alert.line_id == where.line_id)
        query = query.where(or_(Alert.machine_id.in_(on_line), own))
    if where.machine_id is not None:
        query = query.where(Alert.machine_id == where.machine_id)
    if where.shelved is not None and where.shelved_at is not None:
        is_shelved = Alert.shelved_until > where.shelved_at
        query = query.where(is_shelved if where.shelved else or_(Alert.shelved_until.is_(None), ~is_shelved))
    if where.opened_after is not None:
        query = query.where(Alert.opened_at >= where.opened_after)
    if where.opened_before is not None:
        query = query.where(Alert.opened_at < where.opened_before)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    return [dict(row) for row in session.execute(_with_subject(Alert.id.in_(query))).mappings()]


def get_alert_row(session: Session, alert_id: int) -> AlertRow | None:
    found = session.execute(
        select(Alert, Machine.path, Site.name, Line.name)
        .outerjoin(Machine, Machine.id == Alert.machine_id)
        .join(Line, Line.id == func.coalesce(Machine.line_id, Alert.line_id))
        .join(Site, Site.id == Line.site_id)
        .where(Alert.id == alert_id)
    ).first()
    if found is None:
        return None
    alert, path, site, line = found
    return alert, path, f"{site}/{line}"


def get_shown(session: Session, alert_id: int) -> ShownAlert | None:
    found = session.execute(_with_subject(Alert.id == alert_id)).mappings().first()
    return dict(found) if found is not None else None


def history(session: Session, alert_id: int) -> Sequence[AlertEvent]:
    return session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
    ).all()


def notifications_of(session: Session, alert_id: int) -> Sequence[Notification]:
    return session.scalars(
        select(Notification).where(Notification.alert_id == alert_id).order_by(Notification.id)
    ).all()


def active_severities(session: Session, rule: str) -> dict[int, str]:
    """machine id → severity of its active alert of `rule`."""
    rows = session.execute(
        select(Alert.machine_id, Alert.severity).where(
            Alert.rule == rule, Alert.state.in_(ACTIVE_STATES), Alert.machine_id.is_not(None)
        )
    )
    return {machine_id: severity for machine_id, severity in rows if machine_id is not None}


def unacknowledged_since(session: Session, opened_before: datetime, now: datetime) -> Sequence[Alert]:
    """Open alerts opened before `opened_before`, not yet escalated and not shelved at `now`, locked."""
    return session.scalars(
        select(Alert)
        .where(
            Alert.state == "open",
            Alert.opened_at <= opened_before,
            Alert.escalated_at.is_(None),
            (Alert.shelved_until.is_(None)) | (Alert.shelved_until <= now),
        )
        .order_by(Alert.id)
        .with_for_update(skip_locked=True)
    ).all()


def shelving_ended(session: Session, now: datetime) -> Sequence[Alert]:
    """Alerts whose shelving has expired, locked."""
    return session.scalars(
        select(Alert).where(Alert.shelved_until <= now).order_by(Alert.id).with_for_update(skip_locked=True)
    ).all()


def active_sensor_health(session: Session, rules: Collection[str]) -> dict[int, list[tuple[str, list[str]]]]:
    """machine id → (rule, sensor names) of each of its active alerts of `rules` (detail["sensors"])."""
    rows = session.execute(
        select(Alert.machine_id, Alert.rule, Alert.detail).where(
            Alert.rule.in_(list(rules)), Alert.state.in_(ACTIVE_STATES), Alert.machine_id.is_not(None)
        )
    )
    found: dict[int, list[tuple[str, list[str]]]] = {}
    for machine_id, rule, detail in rows:
        names = [str(s.get("sensor")) for s in (detail or {}).get("sensors", []) if isinstance(s, dict)]
        if machine_id is not None:
            found.setdefault(machine_id, []).append((rule, names))
    return found
