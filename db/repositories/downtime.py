"""Queries on planned downtime windows (of a machine or a whole line)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.tables import DowntimeWindow, Machine


def machines_in_downtime(session: Session, at: datetime) -> set[int]:
    """Machines (not retired) inside a downtime window of their own or of their line at `at`."""
    covering = (DowntimeWindow.starts_at <= at) & (DowntimeWindow.ends_at > at)
    rows = session.scalars(
        select(Machine.id)
        .join(
            DowntimeWindow,
            or_(DowntimeWindow.machine_id == Machine.id, DowntimeWindow.line_id == Machine.line_id),
        )
        .where(covering, Machine.retired_at.is_(None))
        .distinct()
    )
    return set(rows)


def list_windows(
    session: Session,
    *,
    machine_id: int | None = None,
    line_id: int | None = None,
    ending_after: datetime | None = None,
    starting_before: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> Sequence[DowntimeWindow]:
    """Windows, newest first; `machine_id` also matches the windows of the machine's line (`line_id`);
    `ending_after` and `starting_before` keep those that overlap that time."""
    query = select(DowntimeWindow).order_by(DowntimeWindow.id.desc()).limit(limit)
    if machine_id is not None:
        query = query.where(
            or_(DowntimeWindow.machine_id == machine_id, DowntimeWindow.line_id == line_id)
            if line_id is not None
            else DowntimeWindow.machine_id == machine_id
        )
    elif line_id is not None:
        query = query.where(DowntimeWindow.line_id == line_id)
    if ending_after is not None:
        query = query.where(DowntimeWindow.ends_at > ending_after)
    if starting_before is not None:
        query = query.where(DowntimeWindow.starts_at < starting_before)
    if before_id is not None:
        query = query.where(DowntimeWindow.id < before_id)
    return session.scalars(query).all()
