"""Per-sensor figures over a time window, from the 1-minute rollups: what the sensor-health rules judge.

Windows end at the rollups' watermark, not at the clock: a minute not yet rolled up is not judged
(it may still receive readings), and one query over a few rollup rows per machine replaces a scan of
the raw readings of the whole fleet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.tables import Machine, Sensor


@dataclass(frozen=True, slots=True)
class SensorWindow:
    low: float  # the smallest value in the window
    high: float  # the largest
    n: int  # values in the window
    first_bucket: datetime  # the first minute with a value


@dataclass(frozen=True, slots=True)
class SensorRange:
    name: str
    position: int
    normal_min: float | None
    normal_max: float | None


ROLLUP_TABLES = ("readings_1m", "readings_1h")


def _windows_sql(table: str) -> str:
    if table not in ROLLUP_TABLES:
        raise ValueError(f"not a rollup table: {table!r}")
    return (
        "SELECT r.machine_id, u.pos, min(u.lo), max(u.hi), sum(u.cnt)::int, min(r.bucket) "
        f"FROM {table} r, unnest(r.min, r.max, r.n) WITH ORDINALITY AS u(lo, hi, cnt, pos) "
        "WHERE r.bucket >= :start AND r.bucket < :stop AND u.cnt > 0 "
        "GROUP BY r.machine_id, u.pos"
    )


def sensor_windows(
    session: Session, start: datetime, stop: datetime, table: str = "readings_1m"
) -> dict[int, dict[int, SensorWindow]]:
    """machine id → sensor position → its figures over the buckets of `table` in [start, stop)."""
    found: dict[int, dict[int, SensorWindow]] = {}
    params = {"start": start, "stop": stop}
    for machine_id, position, low, high, n, first in session.execute(text(_windows_sql(table)), params):
        found.setdefault(machine_id, {})[int(position)] = SensorWindow(low, high, n, first)
    return found


def sensors_of_active_machines(session: Session) -> dict[int, list[SensorRange]]:
    """machine id → its sensors in service (with their normal ranges, where set), for machines in service."""
    rows = session.execute(
        select(Sensor.machine_id, Sensor.name, Sensor.position, Sensor.normal_min, Sensor.normal_max)
        .join(Machine, Machine.id == Sensor.machine_id)
        .where(Machine.retired_at.is_(None), Sensor.retired_at.is_(None))
        .order_by(Sensor.machine_id, Sensor.position)
    )
    found: dict[int, list[SensorRange]] = {}
    for machine_id, name, position, low, high in rows:
        found.setdefault(machine_id, []).append(SensorRange(name, position, low, high))
    return found
