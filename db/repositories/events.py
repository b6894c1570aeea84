"""Queries on machine events (failures and maintenance): find, add, list newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from db.tables import MachineEvent


def lock_machine_events(session: Session, machine_id: int) -> None:
    """Serialise event writes per machine until the transaction ends (duplicate checks stay true)."""
    session.execute(text("SELECT pg_advisory_xact_lock(7302, :m)"), {"m": machine_id})


def find_event(session: Session, machine_id: int, kind: str, ts: datetime) -> MachineEvent | None:
    return session.scalar(
        select(MachineEvent)
        .where(MachineEvent.machine_id == machine_id, MachineEvent.kind == kind, MachineEvent.ts == ts)
        .order_by(MachineEvent.id)
        .limit(1)
    )


def add_event(
    session: Session,
    *,
    machine_id: int,
    kind: str,
    ts: datetime,
    note: str,
    work_order_id: str | None,
    created_by: str | None,
) -> MachineEvent:
    event = MachineEvent(
        machine_id=machine_id,
        kind=kind,
        ts=ts,
        note=note,
        work_order_id=work_order_id,
        created_by=created_by,
    )
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session,
    machine_id: int,
    *,
    before: tuple[datetime, int] | None = None,
    limit: int = 100,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[MachineEvent]:
    """A machine's events, newest first (by ts, then id); `before` is the (ts, id) keyset cursor."""
    query = select(MachineEvent).where(MachineEvent.machine_id == machine_id)
    if before is not None:
        query = query.where(tuple_(MachineEvent.ts, MachineEvent.id) < tuple_(*before))
    if kind is not None:
        query = query.where(MachineEvent.kind == kind)
    if since is not None:
        query = query.where(MachineEvent.ts >= since)
    if until is not None:
        query = query.where(MachineEvent.ts < until)
    query = query.order_by(MachineEvent.ts.desc(), MachineEvent.id.desc()).limit(limit)
    return session.scalars(query).all()
