"""Rollup upkeep: 1-minute and 1-hour aggregates of readings, brought up to now every minute."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from db.rollups import refresh_range, refresh_rollups
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

# At most this much new data per run: a first run over old data (or after the scheduler was down)
# catches up over several short runs, one a minute, instead of one long transaction.
MAX_ADVANCE_PER_RUN = timedelta(hours=6)


def rollups(
    session: Session,
    settings: Settings,
    now: datetime,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Refresh the rollups up to `now`, recomputing the last `rollup_lateness_s` for late readings.

    With `start` and `end` (RFC 3339; a job request's params), recompute that range instead: a
    backfill after readings older than the lateness were written.
    """
    if start is not None or end is not None:
        if start is None or end is None:
            raise ValueError("a rollups backfill needs both start and end")
        summary = refresh_range(session, _aware(start, "start"), _aware(end, "end"))
        log.info("rollups recomputed for %s … %s: %s", start, end, summary)
        return summary
    summary = refresh_rollups(
        session,
        until=now,
        lateness=timedelta(seconds=settings.rollup_lateness_s),
        max_advance=MAX_ADVANCE_PER_RUN,
    )
    if summary["caught_up"]:
        log.debug("rollups refreshed: %s", summary)
    else:
        log.info("rollups catching up: done until %s", summary["done_until"])
    return summary


def _aware(value: str, name: str) -> datetime:
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise ValueError(f"{name} {value!r} needs a UTC offset (RFC 3339)")
    return ts
