"""When each periodic job fires: the schedule table, read by the scheduler and by the jobs API.

Periodic jobs fire on a fixed UTC grid (every N seconds from 2000-01-01, plus an offset), so every
scheduler replica computes the same `scheduled_for` for a firing, and the API can say when a job
runs next without asking the scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from plantwatch.settings import Settings

GRID_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    """Fire `job_name` every `every`, on the grid GRID_ORIGIN + offset + k·every."""

    job_name: str
    every: timedelta
    offset: timedelta = timedelta(0)
    at_start: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def anchor(self) -> datetime:
        return GRID_ORIGIN + self.offset

    def slot(self, now: datetime) -> datetime:
        """The grid time of the firing that is due at `now` (the latest one not after it)."""
        return self.anchor + ((now - self.anchor) // self.every) * self.every

    def next_after(self, now: datetime) -> datetime:
        return self.slot(now) + self.every


def schedules(settings: Settings) -> list[Schedule]:
    return [
        # After scoring (offset 20 s) and the rollups (5 s) of the same minute.
        Schedule(
            "evaluate_alerts", timedelta(seconds=settings.alert_interval_s), offset=timedelta(seconds=40)
        ),
        Schedule("notify_alerts", timedelta(seconds=settings.notify_interval_s), offset=timedelta(seconds=2)),
        Schedule("silent_machines", timedelta(seconds=settings.silent_check_interval_s)),
        Schedule("partition_upkeep", timedelta(days=1), offset=timedelta(minutes=15), at_start=True),
        Schedule("rollups", timedelta(seconds=settings.rollup_interval_s), offset=timedelta(seconds=5)),
        # Hourly: each firing trains the scopes at their local training hour (jobs/training_hours.py).
        Schedule("train_rul", timedelta(hours=1), params={"local_hour": settings.rul_train_hour}),
        # Just after each quality sample ends, so that its last inspections are classified.
        Schedule("quality_check", timedelta(seconds=settings.quality_bucket_s), offset=timedelta(seconds=30)),
        Schedule(
            "train_qc",
            timedelta(hours=1),
            offset=timedelta(minutes=30),
            params={"local_hour": settings.qc_train_hour},
        ),
        Schedule(
            "score_machines", timedelta(seconds=settings.score_interval_s), offset=timedelta(seconds=20)
        ),
        Schedule("retention", timedelta(days=1), offset=timedelta(hours=3, minutes=30)),
        Schedule("dead_letter_report", timedelta(days=1), offset=timedelta(hours=6)),
    ]
