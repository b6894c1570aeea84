"""Queries of the retention job: what must be kept, and row-wise deletes of old rows.

Whole days of raw readings are dropped by `db.partitions.drop_partitions_before`; what is here deletes
row by row: readings parked in the default partition, 1-minute rollups, job runs and dead letters.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import CursorResult, Result, delete, func, or_, select, text
from sqlalchemy.orm import Session

from db.partitions import DEFAULT_PARTITION
from db.tables import BacktestPin, DeadLetter, JobRun, Machine, ModelVersion, Prediction, ReadingRollup1m


def _count(result: Result[object]) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def versions_with_data_window(
    session: Session, kinds: Collection[str], statuses: Collection[str]
) -> Sequence[ModelVersion]:
    """Model versions of these kinds and statuses whose training data range is recorded."""
    return session.scalars(
        select(ModelVersion)
        .where(
            ModelVersion.kind.in_(sorted(kinds)),
            ModelVersion.status.in_(sorted(statuses)),
            ModelVersion.data_start.is_not(None),
            ModelVersion.data_end.is_not(None),
        )
        .order_by(ModelVersion.kind, ModelVersion.scope, ModelVersion.version)
    ).all()


def delete_default_readings_before(
    session: Session, before: datetime, keep: Sequence[tuple[datetime, datetime]] = ()
) -> int:
    """Delete readings in the default partition older than `before`, except those inside a [start, end)
    span of `keep`; returns how many."""
    result = session.execute(
        text(
            f"DELETE FROM {DEFAULT_PARTITION} r WHERE r.ts < :before AND NOT EXISTS ("
            "SELECT 1 FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) AS k(s, e) "
            "WHERE r.ts >= k.s AND r.ts < k.e)"
        ),
        {"before": before, "starts": [s for s, _ in keep], "ends": [e for _, e in keep]},
    )
    return _count(result)


def delete_rollups_1m_before(session: Session, before: datetime) -> int:
    """Delete old 1-minute buckets; the caller gives the rollups a new version (`db.rollups.bump_version`)
    once it deleted some, as late in its transaction as it can (the version row stays locked until commit)."""
    return _count(session.execute(delete(ReadingRollup1m).where(ReadingRollup1m.bucket < before)))


def latest_prediction_ids_of_active_machines(session: Session) -> list[int]:
    """The newest prediction of every machine not retired (one index probe per machine)."""
    latest = (
        select(Prediction.id)
        .where(Prediction.machine_id == Machine.id)
        .order_by(Prediction.made_at.desc(), Prediction.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    ids = session.scalars(select(latest).where(Machine.retired_at.is_(None)))
    return [i for i in ids if i is not None]


def delete_finished_job_runs_before(session: Session, before: datetime) -> int:
    """Delete finished runs started before `before`, except the latest finished run of each job."""
    finished = JobRun.status != "running"
    latest = (
        select(JobRun.id)
        .where(finished)
        .distinct(JobRun.job_name)
        .order_by(JobRun.job_name, JobRun.started_at.desc(), JobRun.id.desc())
    )
    query = delete(JobRun).where(finished, JobRun.started_at < before, JobRun.id.not_in(latest))
    return _count(session.execute(query))


def delete_dead_letters_before(session: Session, before: datetime) -> int:
    """Delete dead letters replayed before `before`, or never replayed and received before it; a letter
    whose replay is pending (requested, not done yet) is kept."""
    not_pending = or_(DeadLetter.replay_requested_at.is_(None), DeadLetter.replayed_at.is_not(None))
    last_touched = func.coalesce(DeadLetter.replayed_at, DeadLetter.received_at)
    query = delete(DeadLetter).where(last_touched < before, not_pending)
    return _count(session.execute(query))


def backtest_pins(session: Session) -> Sequence[BacktestPin]:
    return session.scalars(select(BacktestPin).order_by(BacktestPin.name)).all()


def pin_backtest(session: Session, name: str, scope: str, start: datetime, end: datetime, by: str) -> None:
    """Keep [start, end) of raw readings under `name` (replacing a pin of that name)."""
    pin = session.scalar(select(BacktestPin).where(BacktestPin.name == name).with_for_update())
    if pin is None:
        pin = BacktestPin(name=name)
        session.add(pin)
    pin.scope, pin.starts_at, pin.ends_at, pin.created_by = scope, start, end, by
    session.flush()


def unpin_backtest(session: Session, name: str) -> bool:
    """Drop the pin `name`; False when there is none."""
    pin = session.scalar(select(BacktestPin).where(BacktestPin.name == name))
    if pin is None:
        return False
    session.delete(pin)
    session.flush()
    return True
