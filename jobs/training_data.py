"""Training data for RUL models, read from PostgreSQL: one `RulDataset` per machine type (scope).

A scope is a machine type; machines without one form the scope "default". Each machine's readings are
taken one per cycle (or averaged into fixed buckets of `resample_s` seconds) and cut into runs at its
events: a run ended by a failure is labelled, one ended by maintenance, or still running, is censored.
Sensors are matched by name across the machines of the scope (NaN where a machine lacks one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from db.tables import Machine, MachineEvent, Sensor
from models.config import InsufficientDataError, RulDataset
from models.windows import Runs

DEFAULT_SCOPE = "default"


@dataclass(frozen=True)
class ScopeData:
    dataset: RulDataset
    data_start: datetime
    data_end: datetime
    machine_count: int


_READINGS = text('SELECT ts, "values" FROM readings WHERE machine_id = :m ORDER BY ts')


def scope_column() -> ColumnElement[str]:
    return func.coalesce(Machine.machine_type, DEFAULT_SCOPE)


def scope_of(machine_type: str | None) -> str:
    return machine_type or DEFAULT_SCOPE


def failure_count(session: Session, scope: str) -> int:
    """Failures recorded on the machines of `scope`."""
    query = (
        select(func.count())
        .select_from(MachineEvent)
        .join(Machine, MachineEvent.machine_id == Machine.id)
        .where(MachineEvent.kind == "failure", scope_column() == scope)
    )
    return int(session.scalar(query) or 0)


def scopes_with_failures(session: Session) -> list[str]:
    """Scopes with at least one recorded failure, sorted."""
    rows = session.scalars(
        select(scope_column())
        .join(MachineEvent, MachineEvent.machine_id == Machine.id)
        .where(MachineEvent.kind == "failure")
        .distinct()
    ).all()
    return sorted(str(r) for r in rows)


def load_scope(session: Session, scope: str, resample_s: int = 0) -> ScopeData:
    """The dataset of one scope. Raises InsufficientDataError when the scope has no readings."""
    machines = session.execute(
        select(Machine.id, Machine.path).where(scope_column() == scope).order_by(Machine.id)
    ).all()
    if not machines:
        raise InsufficientDataError(f"no machine has type {scope!r}")
    ids = [m.id for m in machines]
    sensors = session.execute(
        select(Sensor.machine_id, Sensor.name, Sensor.position).where(Sensor.machine_id.in_(ids))
    ).all()
    names = sorted({s.name for s in sensors})
    column = {name: i for i, name in enumerate(names)}
    events = session.execute(
        select(MachineEvent.machine_id, MachineEvent.ts, MachineEvent.kind)
        .where(MachineEvent.machine_id.in_(ids))
        .order_by(MachineEvent.machine_id, MachineEvent.ts)
    ).all()

    blocks: list[NDArray[np.float64]] = []
    lengths: list[int] = []
    failed: list[bool] = []
    run_machines: list[str] = []
    first: datetime | None = None
    last: datetime | None = None
    for machine_id, path in machines:
        positions = {s.position: column[s.name] for s in sensors if s.machine_id == machine_id}
        ts, values = _machine_rows(session, machine_id, positions, len(names), resample_s)
        if len(ts) == 0:
            continue
        first = ts[0] if first is None or ts[0] < first else first
        last = ts[-1] if last is None or ts[-1] > last else last
        cuts = [(e.ts, e.kind == "failure") for e in events if e.machine_id == machine_id]
        stamps = np.array([t.timestamp() for t in ts])
        start = 0
        for at, is_failure in [*cuts, (None, False)]:
            end = len(ts) if at is None else int(np.searchsorted(stamps, at.timestamp(), side="right"))
            if end > start:
                blocks.append(values[start:end])
                lengths.append(end - start)
                failed.append(is_failure)
                run_machines.append(path)
            start = max(start, end)
    if not blocks or first is None or last is None:
        raise InsufficientDataError(f"the machines of type {scope!r} have no readings")
    dataset = RulDataset(
        values=np.concatenate(blocks),
        sensor_names=names,
        runs=Runs.of(lengths, failed),
        machines=np.asarray(run_machines),
    )
    return ScopeData(dataset, first, last, len(set(run_machines)))


def _machine_rows(
    session: Session, machine_id: int, positions: dict[int, int], width: int, resample_s: int
) -> tuple[list[datetime], NDArray[np.float64]]:
    """A machine's readings as [rows, width] in the scope's sensor order, oldest first."""
    rows = session.execute(_READINGS, {"m": machine_id}).all()
    ts = [r[0] for r in rows]
    out = np.full((len(rows), width), np.nan)
    longest = max((len(r[1] or ()) for r in rows), default=0)
    if rows and longest:
        # None becomes NaN in a float array; rows written before a sensor existed are shorter.
        raw = np.array([list(r[1] or ()) + [None] * (longest - len(r[1] or ())) for r in rows], dtype=float)
        for position, col in positions.items():
            if position <= longest:
                out[:, col] = raw[:, position - 1]
    if resample_s <= 0 or not rows:
        return ts, out
    return resample(ts, out, resample_s)


def resample(
    ts: list[datetime], values: NDArray[np.float64], seconds: int
) -> tuple[list[datetime], NDArray[np.float64]]:
    """Mean of each sensor per bucket of `seconds` (NaN ignored); empty buckets are left out."""
    stamps = np.array([t.timestamp() for t in ts])
    bucket = np.floor(stamps / seconds).astype(np.int64)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(bucket)) + 1))
    present = ~np.isnan(values)
    sums = np.add.reduceat(np.where(present, values, 0.0), starts, axis=0)
    counts = np.add.reduceat(present.astype(np.int64), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    # A bucket is stamped with its last reading, so that events cut runs at the same place.
    ends = np.concatenate((starts[1:], [len(ts)])) - 1
    return [ts[i] for i in ends], means
