"""Retention: every day, drop or delete what is older than configured, keeping what is still needed.

Raw readings go a whole UTC day (partition) at a time once the day ends before `retention_raw_days`;
readings parked in the default partition are deleted row by row under the same rules. A day is kept
while it overlaps the training data [data_start, data_end] of a champion or candidate RUL or health
model (they may be retrained on or compared against; QC models train on images, not readings), while
it is in the history of a pinned backtest (`plantwatch backtest --pin NAME`), or while it is not
rolled up: at or after the 1-minute watermark minus the lateness that the next refresh reads again.
1-minute rollups go after `retention_1m_days` (never at or after what the 1-hour refresh reads again);
1-hour rollups are kept forever. Predictions, finished job runs and dead letters go after their
settings' days, keeping each active machine's latest prediction, each job's latest finished run,
running runs, and dead letters whose replay is pending; a replayed letter goes that long after its
replay. Partitions are dropped last, under a lock timeout, since a drop locks all of `readings` until
the run commits; a timeout leaves them to the next run. Never commits: its run does.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from db.partitions import daily_partitions_before, drop_partitions_before, lock_partitions
from db.repositories import predictions, retention
from db.rollups import HOUR, MINUTE, STATE_1M, bump_version, floor_to, watermarks
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
READINGS_MODEL_KINDS = ("rul", "health")
KEEPING_STATUSES = ("champion", "candidate")
DROP_LOCK_TIMEOUT = "5s"
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout
EVER = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


@dataclass(frozen=True)
class Keep:
    """Raw readings in [start, end) are kept, for `reason`."""

    start: datetime
    end: datetime
    reason: str

    def overlaps(self, day: date) -> bool:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return self.start < start + DAY and self.end > start


def apply_retention(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """Apply the retention settings at `now`; returns what was deleted and what was kept."""
    lateness = timedelta(seconds=settings.rollup_lateness_s)
    rolled = watermarks(session).get(STATE_1M)
    rolled_from = floor_to(rolled - lateness, MINUTE) if rolled is not None else None
    raw_cutoff = floor_to(now - timedelta(days=settings.retention_raw_days), DAY)
    keep = _keep(session, rolled_from)
    # Until the run commits: an import creating a kept old day's partition must not slip in before the drop.
    lock_partitions(session)

    default_deleted = retention.delete_default_readings_before(
        session, raw_cutoff, [(k.start, k.end) for k in keep]
    )
    rollup_cutoff = floor_to(now - timedelta(days=settings.retention_1m_days), DAY)
    if rolled_from is None:
        rollups_deleted = 0  # nothing rolled up into 1-hour buckets yet
    else:
        rollup_cutoff = min(rollup_cutoff, floor_to(rolled_from, HOUR))
        rollups_deleted = retention.delete_rollups_1m_before(session, rollup_cutoff)
    kept_latest = retention.latest_prediction_ids_of_active_machines(session)
    predictions_deleted = predictions.delete_before(
        session, now - timedelta(days=settings.retention_predictions_days), kept_latest
    )
    runs_deleted = retention.delete_finished_job_runs_before(
        session, now - timedelta(days=settings.retention_job_runs_days)
    )
    letters_deleted = retention.delete_dead_letters_before(
        session, now - timedelta(days=settings.retention_dead_letters_days)
    )

    kept = _kept_partitions(session, raw_cutoff.date(), keep)
    dropped, drop_error = _drop(session, raw_cutoff.date(), kept)
    summary = {
        "raw_cutoff": raw_cutoff.isoformat(),
        "partitions_dropped": dropped,
        "partitions_kept": dict(Counter(kept.values())),
        "default_readings_deleted": default_deleted,
        "rollups_1m_cutoff": rollup_cutoff.isoformat() if rolled_from is not None else None,
        "rollups_1m_deleted": rollups_deleted,
        "predictions_deleted": predictions_deleted,
        "job_runs_deleted": runs_deleted,
        "dead_letters_deleted": letters_deleted,
    }
    if drop_error is not None:
        summary["partitions_not_dropped"] = drop_error
    if rollups_deleted:
        bump_version(session)  # last: the version row stays locked until this transaction commits
    if dropped:
        log.info("retention dropped readings partitions: %s", ", ".join(dropped))
    return summary


def _keep(session: Session, rolled_from: datetime | None) -> list[Keep]:
    """What raw readings must stay: the days not rolled up, models' training data, pinned backtests."""
    if rolled_from is None:
        spans = [Keep(*EVER, "not rolled up yet (the rollups have never run)")]
    else:
        reason = f"not rolled up yet (1-minute rollups until {rolled_from.isoformat()})"
        spans = [Keep(rolled_from, EVER[1], reason)]
    for version in retention.versions_with_data_window(session, READINGS_MODEL_KINDS, KEEPING_STATUSES):
        assert version.data_start is not None and version.data_end is not None  # selected so
        spans.append(
            Keep(
                floor_to(version.data_start, DAY),
                floor_to(version.data_end, DAY) + DAY,
                f"training window of {version.kind} {version.scope} v{version.version} ({version.status})",
            )
        )
    for pin in retention.backtest_pins(session):
        spans.append(
            Keep(
                floor_to(pin.starts_at, DAY),
                floor_to(pin.ends_at, DAY) + DAY,
                f"pinned backtest {pin.name!r}",
            )
        )
    return spans


def _kept_partitions(session: Session, before: date, keep: Sequence[Keep]) -> dict[str, str]:
    """The old partitions that stay (name → why), logged in runs of consecutive days with one reason."""
    kept: dict[str, str] = {}
    for name, day in daily_partitions_before(session, before).items():
        reason = next((k.reason for k in keep if k.overlaps(day)), None)
        if reason is not None:
            kept[name] = reason
    for reason, names in groupby(kept, key=kept.__getitem__):
        run = list(names)
        what = run[0] if len(run) == 1 else f"{run[0]} … {run[-1]} ({len(run)} partitions)"
        log.info("kept %s: %s", what, reason)
    return kept


def _drop(session: Session, before: date, kept: dict[str, str]) -> tuple[list[str], str | None]:
    """Drop the old partitions not kept; waits at most DROP_LOCK_TIMEOUT for the lock on readings."""
    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
            return drop_partitions_before(session, before, kept), None
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        log.warning("retention: readings busy for %s, partitions left to the next run", DROP_LOCK_TIMEOUT)
        return [], f"readings locked by others for over {DROP_LOCK_TIMEOUT}"
