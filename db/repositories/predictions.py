"""Queries on predictions: write a scoring run's rows, read the latest per machine, and history."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Row, any_, bindparam, delete, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.orm import Session

from db.tables import Prediction


def add_predictions(session: Session, rows: Iterable[Prediction]) -> None:
    session.add_all(list(rows))
    session.flush()


def latest_for_machines(session: Session, machine_ids: Iterable[int]) -> dict[int, Prediction]:
    """Each machine's newest prediction (machines never scored are absent)."""
    ids = sorted(set(machine_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Prediction)
        .where(Prediction.machine_id.in_(ids))
        .distinct(Prediction.machine_id)
        .order_by(Prediction.machine_id, Prediction.made_at.desc(), Prediction.id.desc())
    )
    return {row.machine_id: row for row in rows}


HEALTH_COLUMNS = (
    Prediction.machine_id, Prediction.made_at, Prediction.status, Prediction.rul, Prediction.rul_low,
    Prediction.rul_high, Prediction.failure_probability, Prediction.health_score, Prediction.detail,
)  # fmt: skip


def latest_health(session: Session, machine_ids: Iterable[int]) -> dict[int, Row[Any]]:
    """Each machine's newest prediction as a row of HEALTH_COLUMNS (never scored: absent), read
    without building ORM objects."""
    ids = sorted(set(machine_ids))
    if not ids:
        return {}
    # One array parameter: an IN list of 100 would be rendered and parsed again on every call.
    rows = session.execute(
        select(*HEALTH_COLUMNS)
        .where(Prediction.machine_id == any_(bindparam("ids", type_=ARRAY(Integer))))
        .ext(distinct_on(Prediction.machine_id))
        .order_by(Prediction.machine_id, Prediction.made_at.desc(), Prediction.id.desc()),
        {"ids": ids},
    )
    return {row.machine_id: row for row in rows.all()}


def delete_before(session: Session, before: datetime, keep_ids: Collection[int] = ()) -> int:
    """Remove predictions made before `before` except those in `keep_ids` (retention); returns how many."""
    query = delete(Prediction).where(Prediction.made_at < before)
    if keep_ids:
        query = query.where(Prediction.id.not_in(sorted(set(keep_ids))))
    result = session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


def history(
    session: Session,
    machine_id: int,
    *,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[Prediction]:
    """A machine's predictions, newest first; `before` (made_at, id) continues a previous page."""
    query = (
        select(Prediction)
        .where(Prediction.machine_id == machine_id)
        .order_by(Prediction.made_at.desc(), Prediction.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(Prediction.made_at >= since)
    if until is not None:
        query = query.where(Prediction.made_at < until)
    if before is not None:
        query = query.where(tuple_(Prediction.made_at, Prediction.id) < tuple_(*before))
    return session.scalars(query).all()
