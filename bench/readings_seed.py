"""Seeding the dashboard-reads benchmark's database: machines, sensors and readings by binary COPY, once.

A marker file next to the data folder records the parameters of the data it holds, so a later run
with the same parameters reuses it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy.orm import Session, sessionmaker

from db.engine import libpq_url, transaction
from db.partitions import ensure_daily_partitions
from db.repositories.assets import register_machine, register_sensors
from db.rollups import HOUR, floor_to

log = logging.getLogger("bench.readings")


@dataclass(frozen=True)
class SeedParams:
    machines: int
    sensors: int
    days: int
    interval_s: int


def read_marker(marker: Path, params: SeedParams) -> dict[str, Any] | None:
    try:
        seeded: dict[str, Any] = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return seeded if seeded.get("params") == asdict(params) else None


def seed(url: str, factory: sessionmaker[Session], params: SeedParams) -> dict[str, Any]:
    """Machines, sensors and readings ending at the last full hour, by binary COPY, one machine a commit."""
    began = time.perf_counter()
    end = floor_to(datetime.now(UTC), HOUR)
    start = end - timedelta(days=params.days)
    ticks = params.days * 86400 // params.interval_s
    names = [f"s{k:02d}" for k in range(1, params.sensors + 1)]
    with transaction(factory) as session:
        ensure_daily_partitions(session, start.date(), end.date())
        ids = []
        for number in range(params.machines):
            machine_id = register_machine(session, "bench", f"line{number // 10}", f"m{number:03d}").id
            register_sensors(session, machine_id, names)
            ids.append(machine_id)
    rng = np.random.default_rng(42)
    seconds = np.arange(ticks, dtype=np.float64) * params.interval_s
    stamps = [start + timedelta(seconds=float(s)) for s in seconds]
    log.info("seeding %d machines x %d readings of %d sensors", params.machines, ticks, params.sensors)
    with psycopg.connect(libpq_url(url)) as conn:
        for count, machine_id in enumerate(ids, 1):
            base = rng.uniform(10, 100, params.sensors)
            period = rng.uniform(600, 86400, params.sensors)
            values = (
                base
                + 5 * np.sin(2 * math.pi * seconds[:, None] / period)
                + rng.normal(0, 1, (ticks, params.sensors))
            )
            with (
                conn.cursor() as cursor,
                cursor.copy(
                    'COPY readings (machine_id, ts, seq, "values") FROM STDIN (FORMAT BINARY)'
                ) as copy,
            ):
                copy.set_types(["int4", "timestamptz", "int8", "float8[]"])
                for seq, (ts, row) in enumerate(zip(stamps, values.tolist(), strict=True)):
                    copy.write_row((machine_id, ts, seq, row))
            conn.commit()
            if count % 10 == 0 or count == len(ids):
                log.info("seeded %d/%d machines (%.0f s)", count, len(ids), time.perf_counter() - began)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE readings")
    seed_seconds = round(time.perf_counter() - began, 1)
    log.info("seeded %d readings in %.0f s", ticks * params.machines, seed_seconds)
    return {
        "params": asdict(params),
        "end": end.isoformat(),
        "rows": ticks * params.machines,
        "seed_seconds": seed_seconds,
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
