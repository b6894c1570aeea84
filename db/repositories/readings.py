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
    return [(ts, value) for ts, value in rows.all()]  # all(): one fetch, not one per row


def recent_rows(
    session: Session,
    machine_ids: list[int],
    limit: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[int, list[tuple[datetime, list[float | None]]]]:
    """Each machine's newest `limit` readings in [since, until] (either end open when None), oldest first."""
    if not machine_ids:
        return {}
    rows = session.execute(
        text(
            'SELECT m.id, r.ts, r."values" FROM unnest(CAST(:ids AS int[])) AS m(id) '
            'CROSS JOIN LATERAL (SELECT ts, "values" FROM readings WHERE machine_id = m.id '
            "AND (CAST(:since AS timestamptz) IS NULL OR ts >= :since) "
            "AND (CAST(:until AS timestamptz) IS NULL OR ts <= :until) ORDER BY ts DESC LIMIT :n) r "
            "ORDER BY m.id, r.ts"
        ),
        {"ids": machine_ids, "n": limit, "since": since, "until": until},
    )
    found: dict[int, list[tuple[datetime, list[float | None]]]] = {m: [] for m in machine_ids}
    for machine_id, ts, values in rows:
        found[machine_id].append((ts, list(values or ())))
    return found


def machines_with_readings_before(session: Session, first_seen: dict[int, datetime]) -> set[int]:
    """Of the machines in `first_seen`, those with a reading older than the time given for each."""
    if not first_seen:
        return set()
    found = session.execute(
        text(
            "SELECT m.id FROM unnest(CAST(:ids AS int[]), CAST(:ts AS timestamptz[])) AS m(id, ts) "
            "WHERE EXISTS (SELECT 1 FROM readings WHERE machine_id = m.id AND ts < m.ts)"
        ),
        {"ids": list(first_seen), "ts": list(first_seen.values())},
    )
    return {int(machine_id) for (machine_id,) in found}


# --- writing (ingest) ------------------------------------------------------------------------------

ReadingRow = tuple[int, datetime, int | None, list[float | None]]  # machine_id, ts, seq, values

_STAGE = "_readings_stage"


def insert_readings(session: Session, rows: list[ReadingRow]) -> set[tuple[int, datetime]]:
    """Insert rows unless their (machine_id, ts) exists; returns the keys actually inserted.

    Rows go through a per-connection temporary table with binary COPY, then one
    `INSERT … SELECT … ON CONFLICT DO NOTHING`: idempotent, and the fastest idempotent path measured
    (FACTS.md). Days without a partition land in the default partition.
    """
    if not rows:
        return set()
    connection = session.connection()
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
        '(machine_id int4, ts timestamptz, seq int8, "values" float8[]) ON COMMIT DELETE ROWS'
    )
    # ON COMMIT DELETE ROWS empties the stage at each commit; this covers two calls in one transaction
    # (DELETE, not TRUNCATE: TRUNCATE would give the table a new file, a catalog write, every batch).
    connection.exec_driver_sql(f"DELETE FROM {_STAGE}")
    driver = connection.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY {_STAGE} (machine_id, ts, seq, "values") FROM STDIN (FORMAT BINARY)') as copy,
    ):
        copy.set_types(["int4", "timestamptz", "int8", "float8[]"])
        for row in rows:
            copy.write_row(row)
    result = connection.exec_driver_sql(
        f'INSERT INTO readings (machine_id, ts, seq, "values") SELECT machine_id, ts, seq, "values" '
        f"FROM {_STAGE} ON CONFLICT (machine_id, ts) DO NOTHING RETURNING machine_id, ts"
    )
    return {(machine_id, ts) for machine_id, ts in result}


def readings_at(
    session: Session, keys: list[tuple[int, datetime]]
) -> dict[tuple[int, datetime], list[float | None]]:
    """The stored values of the readings with these (machine_id, ts) keys (absent keys are left out)."""
    if not keys:
        return {}
    rows = session.execute(
        text(
            'SELECT r.machine_id, r.ts, r."values" FROM readings r '
            "JOIN unnest(CAST(:machines AS int4[]), CAST(:stamps AS timestamptz[])) AS k(machine_id, ts) "
            "ON r.machine_id = k.machine_id AND r.ts = k.ts"
        ),
        {"machines": [k[0] for k in keys], "stamps": [k[1] for k in keys]},
    )
    return {(machine_id, ts): list(values) for machine_id, ts, values in rows}
