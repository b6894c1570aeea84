"""The database side of the ingest benchmark: its own PostgreSQL, waiting for commits, the checks
(lost, doubled, altered readings; latency from commit timestamps) and the binary COPY ceiling.

The server runs with `track_commit_timestamp = on`, so every stored reading tells when the
transaction that wrote it committed (`pg_xact_commit_timestamp(xmin)`); the publisher stamped each
message with its publish time, so commit time minus `ts` is the publish-to-committed latency.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.mqtt_load import machine_name, sensor_names
from db.engine import libpq_url, make_engine, make_session_factory, transaction
from db.migrate import upgrade
from db.partitions import ensure_daily_partitions
from db.repositories.assets import register_machine, register_sensors
from plantwatch.embedded import EmbeddedPostgres

log = logging.getLogger("bench.ingest")

PROBE = ("bench", "probe", "p0")
COPY_SEQ_BASE = 10**12  # the COPY ceiling's rows stay out of the published seq ranges
ROWS_QUERY = """
SELECT count(*), count(DISTINCT (machine_id, seq)),
       count(*) FILTER (WHERE "values"[1] IS DISTINCT FROM seq + 0.01)
FROM readings WHERE machine_id = ANY(%(ids)s) AND seq BETWEEN %(first)s AND %(last)s
"""


def start_database(data_dir: Path) -> tuple[EmbeddedPostgres, str]:
    """A fresh PostgreSQL with commit timestamps on, migrated, partitions for yesterday … tomorrow."""
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    server.stop()
    url = server.start()
    upgrade(url)
    return server, url


def register_fleet(url: str, machines: int, sensors: int) -> list[int]:
    """The bench machines (and the probe) with their sensors at positions 1…sensors; machine ids."""
    engine = make_engine(url, pool_size=1)
    try:
        with transaction(make_session_factory(engine)) as session:
            today = datetime.now(UTC).date()
            ensure_daily_partitions(session, today - timedelta(days=1), today + timedelta(days=1))
            ids = []
            for index in [*range(machines), -1]:
                machine = register_machine(session, *(machine_name(index) if index >= 0 else PROBE))
                for name in sensor_names(sensors):  # one at a time: s01 at position 1, …
                    register_sensors(session, machine.id, [name])
                ids.append(machine.id)
    finally:
        engine.dispose()
    return ids[:-1]


def probe_stored(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM readings r JOIN machines m ON m.id = r.machine_id WHERE m.path = %s",
        ("/".join(PROBE),),
    ).fetchone()
    return bool(row and row[0])


def wait_committed(
    conn: psycopg.Connection[Any], ids: list[int], first: int, last: int, expected: int, timeout_s: float
) -> float | None:
    """When (wall time) every reading with seq in [first, last] was seen committed; None on timeout.

    Polls the machines' `last_seq` (a thousand rows) every 50 ms, and counts the readings themselves
    when that says done or every 5 s (a full count is too heavy to poll often).
    """
    deadline = time.time() + timeout_s
    next_count = time.time() + 5
    while time.time() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM machines WHERE id = ANY(%s) AND last_seq >= %s", (ids, last)
        ).fetchone()
        seen = time.time()
        if (row and row[0] == len(ids)) or seen >= next_count:
            next_count = seen + 5
            counted = conn.execute(ROWS_QUERY, {"ids": ids, "first": first, "last": last}).fetchone()
            if counted and counted[1] >= expected:
                return seen
        time.sleep(0.05)
    return None


def verify(conn: psycopg.Connection[Any], ids: list[int], first: int, last: int, sent: int) -> dict[str, int]:
    """Lost (sent but not stored), duplicated (stored more than once), altered (values not as sent)."""
    row = conn.execute(ROWS_QUERY, {"ids": ids, "first": first, "last": last}).fetchone()
    assert row is not None
    stored, distinct, altered = row
    return {"lost": sent - distinct, "duplicated": stored - distinct, "altered": altered}


def latency_ms(conn: psycopg.Connection[Any], ids: list[int], first: int, last: int) -> dict[str, float]:
    """Percentiles of commit time minus publish time (`ts`) of the readings with seq in [first, last]."""
    row = conn.execute(
        "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY lag), max(lag), count(*) "
        "FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - ts) * 1000 AS lag "
        "FROM readings WHERE machine_id = ANY(%(ids)s) AND seq BETWEEN %(first)s AND %(last)s) r",
        {"ids": ids, "first": first, "last": last},
    ).fetchone()
    assert row is not None and row[0] is not None, "no readings of the paced phase"
    (p50, p99), worst, count = row
    return {"p50": round(p50, 2), "p99": round(p99, 2), "max": round(float(worst), 2), "count": count}


def dead_letters(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    return int(row[0]) if row else 0


def copy_ceiling(url: str, ids: list[int], sensors: int, rows: int, batch: int) -> dict[str, float]:
    """Binary COPY of rows shaped like the benchmark's readings (yesterday's stamps, so no clash)
    straight into `readings`, one commit per `batch` rows; the rows are built before the clock starts."""
    start = datetime.now(UTC) - timedelta(days=1)
    values = [[tick + k / 100 for k in range(1, sensors + 1)] for tick in range(rows // len(ids) + 1)]
    prepared = [
        (machine_id, start + timedelta(milliseconds=tick), COPY_SEQ_BASE + tick, values[tick])
        for tick in range(rows // len(ids) + 1)
        for machine_id in ids
    ][:rows]
    began = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn:
        for offset in range(0, len(prepared), batch):
            with (
                conn.cursor() as cursor,
                cursor.copy(
                    'COPY readings (machine_id, ts, seq, "values") FROM STDIN (FORMAT BINARY)'
                ) as copy,
            ):
                copy.set_types(["int4", "timestamptz", "int8", "float8[]"])
                for row in prepared[offset : offset + batch]:
                    copy.write_row(row)
            conn.commit()
    seconds = time.perf_counter() - began
    return {"rows_per_s": round(rows / seconds), "values_per_s": round(rows * sensors / seconds)}
