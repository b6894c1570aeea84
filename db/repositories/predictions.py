"""Queries on predictions: write a scoring run's rows, read the latest per machine."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import delete, select
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


def delete_before(session: Session, before: datetime, keep_ids: Collection[int] = ()) -> int:
    """Remove predictions made before `before` except those in `keep_ids` (retention); returns how many."""
    query = delete(Prediction).where(Prediction.made_at < before)
    if keep_ids:
        query = query.where(Prediction.id.not_in(sorted(set(keep_ids))))
    result = session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)
