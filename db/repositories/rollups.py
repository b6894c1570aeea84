"""One sensor's readings in time buckets: rolled-up buckets from the rollup tables, the rest from raw.

Buckets before the rollup's watermark (`rollup_state.done_until`) are read from `readings_1m` /
`readings_1h`; the not-yet-rolled tail is aggregated from raw readings on the same `date_bin` grid,
so an answer is complete and current whatever the state of the rollup job. Buckets are whole: every
bucket that starts in [floor(start), end) is returned with all of its readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from db.rollups import (
    BUCKET_ORIGIN,
    STATE_1H,
    STATE_1M,
    STATE_SEALED,
    VERSION,
    SealedState,
    ceil_to,
    floor_to,
)

WIDTHS: dict[str, tuple[timedelta, str, str]] = {
    # bucket name → (width, rollup table, its watermark in rollup_state)
    "1m": (timedelta(minutes=1), "readings_1m", STATE_1M),
    "1h": (timedelta(hours=1), "readings_1h", STATE_1H),
}

_FROM_RAW = (
    "SELECT date_bin(CAST(:width AS interval), ts, :origin) AS bucket, avg(v), min(v), max(v), count(v)::int "
    'FROM (SELECT ts, "values"[:pos] AS v FROM readings WHERE machine_id = :m AND ts >= :raw_from '
    "AND ts < :stop) r WHERE v IS NOT NULL GROUP BY 1"
)


@dataclass(frozen=True, slots=True)
class Bucket:
    ts: datetime  # the bucket's start
    avg: float
    min: float
    max: float
    n: int  # values of the sensor in the bucket


def _number(column: str) -> str:
    """SQL writing a float as Python does: shortest round-trip digits, and `.0` on whole numbers
    (PostgreSQL writes 3.0 as `3`). Readings are finite: ingest refuses NaN and infinities."""
    whole = f"{column} = trunc({column}) AND abs({column}) < 1e15"
    return f"CASE WHEN {whole} THEN {column} || '.0' ELSE {column}::text END"


def _series_sql(table: str) -> str:
    """The buckets of one rollup table and the raw tail (columns bucket, avg, min, max, n; oldest first)."""
    # Rolled-up buckets are those before the watermark (`split`, floored to the bucket, within
    # [first, stop]); the raw tail starts there. Read in the same statement: one trip less.
    split = (
        "(SELECT LEAST(GREATEST(date_bin(CAST(:width AS interval), max(done_until), :origin), :first), "
        ":stop) FROM rollup_state WHERE name = :state)"  # GREATEST skips NULL: `first` before any refresh
    )
    rolled = (
        f"SELECT bucket, avg[:pos] AS avg, min[:pos] AS min, max[:pos] AS max, n[:pos] AS n FROM {table} "
        f"WHERE machine_id = :m AND bucket >= :first AND bucket < {split} AND n[:pos] > 0"
    )
    return f"{rolled} UNION ALL {_FROM_RAW.replace(':raw_from', split)} ORDER BY 1 LIMIT :limit"


_POINT_JSON = (
    """'{"ts":"' || to_char(b.bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
    f"""|| '","value":' || {_number("b.avg")} || ',"min":' || {_number("b.min")} """
    f"""|| ',"max":' || {_number("b.max")} || ',"n":' || b.n || '}}'"""
)
# Statements built once: a statement's text is parsed for its parameters each time one is made.
_SERIES = {bucket: _series_sql(table) for bucket, (_, table, _) in WIDTHS.items()}
_SERIES_ROWS = {bucket: text(sql) for bucket, sql in _SERIES.items()}
_JSON_ARRAY = "SELECT '[' || coalesce(string_agg({point}, ',' ORDER BY b.bucket), '') || ']' FROM ({rows}) b"
_SERIES_JSON = {
    bucket: text(_JSON_ARRAY.format(point=_POINT_JSON, rows=sql)) for bucket, sql in _SERIES.items()
}


def bucketed_series(
    session: Session,
    machine_id: int,
    position: int,
    start: datetime,
    end: datetime,
    bucket: str,
    limit: int | None = None,
) -> list[Bucket]:
    """The first `limit` buckets of width `bucket` ("1m" or "1h") of the sensor at `position` of a
    machine in [start, end), oldest first; buckets without a value of that sensor are left out."""
    params = _series_params(machine_id, position, start, end, bucket, limit)
    return _buckets(session, _SERIES_ROWS[bucket], params)


def bucketed_series_json(
    session: Session,
    machine_id: int,
    position: int,
    start: datetime,
    end: datetime,
    bucket: str,
    limit: int | None = None,
) -> str:
    """The same buckets as `bucketed_series`, as the JSON array the API sends
    (`[{"ts": "…Z", "value": avg, "min", "max", "n"}, …]`), written by PostgreSQL: a day of 1-minute
    buckets costs the database a millisecond this way, and Python ten to fetch, check and write them."""
    params = _series_params(machine_id, position, start, end, bucket, limit)
    found: str = session.scalar(_SERIES_JSON[bucket], params)
    return found


_SEALED = text(
    "SELECT (SELECT done_until FROM rollup_state WHERE name = :state), "
    "coalesce((SELECT version FROM data_versions WHERE name = :version), 0)"
)


def sealed_state(session: Session) -> SealedState:
    """Up to where the rollups are final, and their version (see db.rollups), read together."""
    until, version = session.execute(_SEALED, {"state": STATE_SEALED, "version": VERSION}).one()
    return SealedState(until, version)


_FRAGMENTS = {
    bucket: text(
        f"SELECT b.piece, string_agg({_POINT_JSON}, ',' ORDER BY b.bucket) "
        "FROM (SELECT date_bin(CAST(:span AS interval), bucket, :origin) AS piece, bucket, "
        "avg[:pos] AS avg, min[:pos] AS min, max[:pos] AS max, n[:pos] AS n "
        f"FROM {table} WHERE machine_id = :m AND bucket >= :first AND bucket < :stop "
        "AND n[:pos] > 0 ORDER BY piece, bucket) b GROUP BY b.piece"
    )
    for bucket, (_, table, _) in WIDTHS.items()
}


def sealed_fragments_json(
    session: Session,
    machine_id: int,
    position: int,
    first: datetime,
    stop: datetime,
    bucket: str,
    span: timedelta,
) -> dict[datetime, str]:
    """The sealed buckets of [first, stop) (both aligned on `span`) as pieces of the JSON array that
    `bucketed_series_json` writes, one per `span` from its start ("" where it has no bucket): read from
    the rollup table only, so every bucket of the range must be before `sealed_state().until`."""
    params = {
        "m": machine_id, "pos": position, "first": first, "stop": stop, "span": span, "origin": BUCKET_ORIGIN,
    }  # fmt: skip
    found: dict[datetime, str] = dict(session.execute(_FRAGMENTS[bucket], params).tuples().all())
    starts = (first + k * span for k in range((stop - first) // span))
    return {start: found.get(start, "") for start in starts}


def _series_params(
    machine_id: int, position: int, start: datetime, end: datetime, bucket: str, limit: int | None
) -> dict[str, Any]:
    width, _, state = WIDTHS[bucket]
    return {
        "m": machine_id, "pos": position, "state": state, "first": floor_to(start, width),
        "stop": ceil_to(end, width), "width": width, "origin": BUCKET_ORIGIN, "limit": limit,
    }  # fmt: skip


def raw_bucketed_series(
    session: Session,
    machine_id: int,
    position: int,
    start: datetime,
    end: datetime,
    bucket: str,
    limit: int | None = None,
) -> list[Bucket]:
    """The same buckets computed from raw readings only (the benchmark's baseline, and a check)."""
    width = WIDTHS[bucket][0]
    params = {
        "m": machine_id, "pos": position, "raw_from": floor_to(start, width), "stop": ceil_to(end, width),
        "width": width, "origin": BUCKET_ORIGIN, "limit": limit,
    }  # fmt: skip
    return _buckets(session, text(f"{_FROM_RAW} ORDER BY 1 LIMIT :limit"), params)


def _buckets(session: Session, statement: TextClause, params: dict[str, Any]) -> list[Bucket]:
    # all() fetches every row in one call; iterating the result would fetch them one by one.
    return [
        Bucket(ts, avg, low, high, n) for ts, avg, low, high, n in session.execute(statement, params).all()
    ]
