"""Partition upkeep: daily partitions of `readings` from yesterday to `partition_days_ahead` ahead."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.partitions import ensure_daily_partitions
from plantwatch.settings import Settings

log = logging.getLogger(__name__)


def partition_upkeep(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """Create the missing daily partitions; rows parked in the default partition move into them."""
    # Two schedulers starting at once would both try to CREATE the same partition.
    session.execute(text("SELECT pg_advisory_xact_lock(7303)"))
    today = now.astimezone(UTC).date()  # partitions are UTC days
    first, last = today - timedelta(days=1), today + timedelta(days=settings.partition_days_ahead)
    created = ensure_daily_partitions(session, first, last)
    if created:
        log.info("created readings partitions: %s", ", ".join(created))
    return {"first": first.isoformat(), "last": last.isoformat(), "created": created}
