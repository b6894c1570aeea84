"""Queries of the notification outbox: events still to route, notifications due, what to publish."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.repositories.alerts import ACTIVE_STATES
from db.tables import Alert, AlertEvent, Notification


def unrouted_events(session: Session, limit: int) -> Sequence[AlertEvent]:
    """The oldest events not yet routed, locked (a second scheduler skips them)."""
    return session.scalars(
        select(AlertEvent)
        .where(AlertEvent.routed_at.is_(None))
        .order_by(AlertEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def add_notifications(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows; one already there (same event, channel, target) is left alone. How many new."""
    if not rows:
        return 0
    result = session.execute(
        insert(Notification)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["alert_event_id", "channel", "target"])
        .returning(Notification.id)
    )
    return len(result.all())


def mark_routed(session: Session, event_ids: Sequence[int], now: datetime) -> None:
    if event_ids:
        session.execute(update(AlertEvent).where(AlertEvent.id.in_(list(event_ids))).values(routed_at=now))


def claim_due(session: Session, now: datetime) -> Notification | None:
    """The oldest pending notification whose time has come, locked until the transaction ends."""
    return session.scalar(
        select(Notification)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def active_alerts_of(session: Session, machine_id: int | None, line_id: int | None) -> Sequence[Alert]:
    """The active alerts of a machine, or (machine_id None) a line's own alerts."""
    subject = (
        Alert.machine_id == machine_id
        if machine_id is not None
        else (Alert.line_id == line_id) & Alert.machine_id.is_(None)
    )
    return session.scalars(
        select(Alert).where(subject, Alert.state.in_(ACTIVE_STATES)).order_by(Alert.id)
    ).all()
