"""`python -m bench.readings`: how fast the dashboard's bucketed reads are, with rollups and without.

Seeds its own PostgreSQL (an EmbeddedPostgres under var/bench/readings-pg, kept between runs) with
`--machines` x `--sensors` x `--days` of readings every `--interval-s` by binary COPY, once: a later
run with the same parameters reuses the data. Then it ensures the partitions, refreshes the rollups
as the `rollups` job does (leaving the last minutes to the raw tail, as between two runs of the job),
and times, over many repetitions with random machines and sensors, the dashboard's query (one
sensor, the last 24 h in 1-minute buckets) and the 7-day one in 1-hour buckets through the
repository function the API uses, and both again computed from raw readings only (the baseline).
Logs go to stderr, the result is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bench.common import REPO, emit, machine, setup_logging, timing_ms
from bench.readings_seed import SeedParams, read_marker, seed
from db.engine import libpq_url, make_engine, make_session_factory, transaction
from db.migrate import upgrade
from db.partitions import ensure_daily_partitions
from db.repositories.rollups import Bucket, bucketed_series, raw_bucketed_series
from db.rollups import refresh_rollups
from plantwatch.embedded import EmbeddedPostgres

log = logging.getLogger("bench.readings")

TARGET_P99_MS = 50.0
ROLLUP_LAG = timedelta(minutes=2)  # the raw tail each query also reads, as between two job runs
LATENESS = timedelta(minutes=5)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.readings", description=__doc__.split("\n")[0])
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--interval-s", type=int, default=10, help="Seconds between readings of a machine.")
    parser.add_argument("--repetitions", type=int, default=300, help="Timed queries of each kind.")
    parser.add_argument(
        "--data-dir", type=Path, default=REPO / "var" / "bench" / "readings-pg", help="Kept between runs."
    )
    parser.add_argument(
        "--rebuild-rollups", action="store_true", help="Empty the rollups first, to time their full build."
    )
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON line to this file.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    params = SeedParams(args.machines, args.sensors, args.days, args.interval_s)
    load_before = os.getloadavg()[0]  # other work on the machine skews the timings: record it
    marker = args.data_dir.with_name(args.data_dir.name + ".seed.json")
    seeded = read_marker(marker, params)
    seeded_now = False
    if seeded is None and args.data_dir.exists():
        log.info("%s holds other data: starting afresh", args.data_dir)
        shutil.rmtree(args.data_dir)
    server = EmbeddedPostgres(args.data_dir)
    url = server.start()
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        if seeded is None:
            marker.unlink(missing_ok=True)
            upgrade(url)
            seeded = seed(url, factory, params)
            marker.write_text(json.dumps(seeded))
            seeded_now = True
        else:
            log.info("reusing the seeded data of %s (%s)", seeded["seeded_at"], marker)
        end = datetime.fromisoformat(seeded["end"])
        rebuild = args.rebuild_rollups or seeded_now
        rollup_seconds = _prepare(url, factory, end, days=params.days, rebuild=rebuild)
        timings = _measure(factory, params, end, args.repetitions)
    finally:
        engine.dispose()
        server.stop()
    result = {
        "day_1m": timings["day_1m"],
        "week_1h": timings["week_1h"],
        "baseline_raw": timings["baseline_raw"],
    }
    result.update(
        rows=seeded["rows"],
        seed_seconds=seeded["seed_seconds"],
        seeded_this_run=seeded_now,
        rollup_seconds=rollup_seconds,
        rollups_rebuilt=rebuild,
        params=asdict(params),
        repetitions=args.repetitions,
        target_p99_ms=TARGET_P99_MS,
        load_avg_1m_before=round(load_before, 2),
        machine=machine(),
        date=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    emit(result, args.out)
    return 0


def _prepare(url: str, factory: sessionmaker[Session], end: datetime, *, days: int, rebuild: bool) -> float:
    """Partitions, then the rollups up to a little before `end`, as the job keeps them; returns seconds."""
    with transaction(factory) as session:
        ensure_daily_partitions(session, (end - timedelta(days=days)).date(), end.date())
        if rebuild:
            session.execute(text("TRUNCATE readings_1m, readings_1h, rollup_state"))
    began = time.perf_counter()
    with transaction(factory) as session:
        summary = refresh_rollups(session, until=end - ROLLUP_LAG, lateness=LATENESS)
    seconds = round(time.perf_counter() - began, 2)
    log.info("rollups refreshed in %.1f s: %s", seconds, summary)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE readings_1m")
        conn.execute("VACUUM ANALYZE readings_1h")
    return seconds


Query = Callable[[Session, int, int, datetime, datetime, str], list[Bucket]]


def _measure(
    factory: sessionmaker[Session], params: SeedParams, end: datetime, repetitions: int
) -> dict[str, Any]:
    with factory() as session:
        machine_ids = list(session.scalars(text("SELECT id FROM machines ORDER BY id")))
    kinds = {"day_1m": (timedelta(hours=24), "1m"), "week_1h": (timedelta(days=params.days), "1h")}
    result: dict[str, Any] = {"baseline_raw": {}}
    for name, (span, bucket) in kinds.items():
        start = end - span
        _check_same(factory, machine_ids[0], start, end, bucket)
        result[name] = _time(factory, bucketed_series, machine_ids, params, start, end, bucket, repetitions)
        result["baseline_raw"][name] = _time(
            factory, raw_bucketed_series, machine_ids, params, start, end, bucket, repetitions
        )
        log.info("%s: rollups %s, raw %s", name, result[name], result["baseline_raw"][name])
    return result


def _check_same(
    factory: sessionmaker[Session], machine_id: int, start: datetime, end: datetime, bucket: str
) -> None:
    """The rollup path answers what raw readings say (else the timings would mean nothing)."""
    with factory() as session:
        fast = bucketed_series(session, machine_id, 1, start, end, bucket)
        slow = raw_bucketed_series(session, machine_id, 1, start, end, bucket)
    same = len(fast) == len(slow) and all(
        a.ts == b.ts and a.n == b.n and math.isclose(a.avg, b.avg, rel_tol=1e-9)
        for a, b in zip(fast, slow, strict=True)
    )
    if not same:
        raise RuntimeError(f"{bucket} buckets from the rollups differ from those computed from raw readings")


def _time(
    factory: sessionmaker[Session],
    query: Query,
    machine_ids: list[int],
    params: SeedParams,
    start: datetime,
    end: datetime,
    bucket: str,
    repetitions: int,
) -> dict[str, float]:
    rng = random.Random(7)
    for _ in range(min(20, repetitions)):  # warm the pool and the caches
        with factory() as session:
            query(session, rng.choice(machine_ids), 1, start, end, bucket)
    samples = []
    for _ in range(repetitions):
        machine_id, position = rng.choice(machine_ids), rng.randint(1, params.sensors)
        began = time.perf_counter()
        with factory() as session:
            query(session, machine_id, position, start, end, bucket)
        samples.append(time.perf_counter() - began)
    return timing_ms(samples)


if __name__ == "__main__":
    raise SystemExit(main())
