"""The daily dead-letter report counts the last day's letters by reason and source, and what waits."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.dead_letters import NewDeadLetter, add_dead_letters
from jobs.dead_letter_report import dead_letter_report
from plantwatch.settings import Settings

NOW = datetime(2026, 8, 3, 6, 0, tzinfo=UTC)


def test_report(session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    def letter(topic: str, reason: str, hours_ago: float) -> NewDeadLetter:
        return NewDeadLetter(
            topic=topic, payload=b"{", reason=reason, detail="", received_at=NOW - timedelta(hours=hours_ago)
        )

    with transaction(session_factory) as session:
        add_dead_letters(session, [
            letter("plantwatch/v1/s/l/m1/telemetry", "invalid_json", 1),
            letter("plantwatch/v1/s/l/m1/telemetry", "invalid_json", 2),
            letter("plantwatch/v1/s/l/m2/telemetry", "unknown_sensor", 3),
            letter("plantwatch/v1/s/l/m3/telemetry", "invalid_json", 30),  # before the last day, still open
        ])  # fmt: skip
    with caplog.at_level(logging.WARNING), transaction(session_factory) as session:
        report = dead_letter_report(session, Settings(), NOW)
    assert report["last_day"] == 3
    assert report["last_day_by_reason"] == {"invalid_json": 2, "unknown_sensor": 1}
    assert report["top_sources"][0] == {
        "reason": "invalid_json",
        "topic": "plantwatch/v1/s/l/m1/telemetry",
        "count": 2,
    }
    assert report["open"] == 4 and report["open_by_reason"] == {"invalid_json": 3, "unknown_sensor": 1}
    assert report["oldest_open"] == (NOW - timedelta(hours=30)).isoformat()
    assert "3 dead letter(s) in the last day (invalid_json 2, unknown_sensor 1)" in caplog.text
    with transaction(session_factory) as session:
        quiet = dead_letter_report(session, Settings(), NOW + timedelta(days=3))
    assert quiet["last_day"] == 0 and quiet["top_sources"] == [] and quiet["open"] == 4
