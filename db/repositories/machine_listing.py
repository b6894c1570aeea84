"""The fleet as the API lists it: each machine with its place, its sensors and its newest reading.

One statement, read as plain rows (no ORM objects): the sensors come as arrays ordered by position
and the newest reading from a lateral lookup on the readings' primary key, so a page of 1,000
machines with 20 sensors each is one round trip instead of 20,000 joined rows for the ORM to sort out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session


class MachineRow(NamedTuple):
    id: int
    path: str
    site: str
    line: str
    name: str
    machine_type: str | None
    external_code: str | None
    last_seen_at: datetime | None
    last_seq: int | None
    seq_gaps: int
    retired_at: datetime | None
    sensor_names: list[str] | None  # the sensors' columns, in position order (None: no sensor yet)
    sensor_positions: list[int] | None
    sensor_units: list[str | None] | None
    sensor_mins: list[float | None] | None
    sensor_maxs: list[float | None] | None
    sensor_retired: list[datetime | None] | None
    latest_ts: datetime | None  # the newest reading (None: none yet)
    latest_values: list[float | None] | None


_LISTING = text(
    """
SELECT m.id, m.path, s.name, l.name, m.name, m.machine_type, m.external_code, m.last_seen_at,
       m.last_seq, m.seq_gaps, m.retired_at,
       sn.names, sn.positions, sn.units, sn.mins, sn.maxs, sn.retired, r.ts, r."values"
FROM machines m
JOIN lines l ON l.id = m.line_id
JOIN sites s ON s.id = l.site_id
LEFT JOIN LATERAL (
    SELECT array_agg(name ORDER BY position) AS names, array_agg(position ORDER BY position) AS positions,
           array_agg(unit ORDER BY position) AS units, array_agg(normal_min ORDER BY position) AS mins,
           array_agg(normal_max ORDER BY position) AS maxs, array_agg(retired_at ORDER BY position) AS retired
    FROM sensors WHERE machine_id = m.id
) sn ON true
LEFT JOIN LATERAL (
    SELECT ts, "values" FROM readings WHERE machine_id = m.id ORDER BY ts DESC LIMIT 1
) r ON true
WHERE m.id > :after_id
  AND (CAST(:ids AS int[]) IS NULL OR m.id = ANY(CAST(:ids AS int[])))
  AND (CAST(:site AS text) IS NULL OR s.name = :site)
  AND (CAST(:line AS text) IS NULL OR l.name = :line)
  AND (:include_retired OR m.retired_at IS NULL)
  AND (CAST(:created_since AS timestamptz) IS NULL OR m.created_at >= CAST(:created_since AS timestamptz))
  AND (CAST(:created_until AS timestamptz) IS NULL OR m.created_at < CAST(:created_until AS timestamptz))
ORDER BY m.id
LIMIT :limit
"""
)


def machine_rows(
    session: Session,
    *,
    ids: Sequence[int] | None = None,
    site: str | None = None,
    line: str | None = None,
    created: tuple[datetime | None, datetime | None] = (None, None),
    after_id: int = 0,
    limit: int = 100,
    include_retired: bool = False,
) -> list[MachineRow]:
    """Machines by id after `after_id` (only `ids` when given; registered within `created`; retired
    ones only with `include_retired`), at most `limit`, each with its sensors and newest reading."""
    params: dict[str, Any] = {
        "ids": list(ids) if ids is not None else None, "site": site, "line": line,
        "after_id": after_id, "include_retired": include_retired, "limit": limit,
        "created_since": created[0], "created_until": created[1],
    }  # fmt: skip
    return [MachineRow(*row) for row in session.execute(_LISTING, params).all()]
