"""Queries on readings (wide rows: `values[position]` is one sensor's value)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session


def sensor_series(
    session: Session, machine_id: int, position: int, start: datetime, end: datetime, limit: int
) -> list[tuple[datetime, float]]:
    """One sensor's (ts, value) pairs in [start, end), oldest first, at most `limit`."""
    rows = session.execute(
        text(
            'SELECT ts, "values"[:pos] FROM readings WHERE machine_id = :m AND ts >= :start AND ts < :end '
            'AND "values"[:pos] IS NOT NULL ORDER BY ts LIMIT :limit'
        ),
        {"m": machine_id, "pos": position, "start": start, "end": end, "limit": limit},
    )
    return [(ts, value) for ts, value in rows]


def latest_values(session: Session, machine_ids: list[int]) -> dict[int, tuple[datetime, list[float | None]]]:
    """Each machine's newest reading: machine id → (ts, values array)."""
    if not machine_ids:
        return {}
    rows = session.execute(
        text(
            'SELECT m.id, r.ts, r."values" FROM unnest(CAST(:ids AS int[])) AS m(id) '
            'CROSS JOIN LATERAL (SELECT ts, "values" FROM readings WHERE machine_id = m.id '
            "ORDER BY ts DESC LIMIT 1) r"
        ),
        {"ids": machine_ids},
    )
    return {machine_id: (ts, list(values)) for machine_id, ts, values in rows}
