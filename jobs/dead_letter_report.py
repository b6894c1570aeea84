"""The daily dead-letter report: what ingest refused in the last day, by reason and topic, and what waits.

Its figures are the job run's summary (`GET /api/v1/jobs/runs?job=dead_letter_report`); new dead
letters are also logged as a warning, naming the worst sources, so that a line publishing a broken
payload is noticed even when nobody looks at the dead-letter list. Fix the sender, then replay with
`plantwatch deadletters replay` or `POST /api/v1/dead-letters/replay`.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from db.repositories import dead_letters as repo
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

WINDOW = timedelta(days=1)
TOP_SOURCES = 10


def dead_letter_report(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    rows = repo.received_by_reason_and_topic(session, now - WINDOW, now)
    by_reason = Counter[str]()
    for reason, _topic, count in rows:
        by_reason[reason] += count
    counts = repo.counts(session)
    oldest = repo.oldest_open(session)
    top = [{"reason": reason, "topic": topic, "count": count} for reason, topic, count in rows[:TOP_SOURCES]]
    if rows:
        log.warning(
            "%d dead letter(s) in the last day (%s); worst: %s",
            sum(by_reason.values()),
            ", ".join(f"{reason} {count}" for reason, count in by_reason.most_common()),
            "; ".join(f"{t['topic']} {t['reason']} x{t['count']}" for t in top[:3]),
        )
    return {
        "last_day": sum(by_reason.values()),
        "last_day_by_reason": dict(by_reason.most_common()),
        "top_sources": top,
        "open": counts.total - counts.replayed,
        "open_by_reason": counts.open_by_reason,
        "replay_requested": counts.replay_requested,
        "oldest_open": oldest.isoformat() if oldest is not None else None,
    }
