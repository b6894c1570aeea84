"""The silent-machines job opens, updates and auto-resolves `silent` alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from db.tables import Alert, AlertRule, Machine
from jobs.silent import human_duration, silent_machines
from plantwatch.settings import Settings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SETTINGS = Settings(silent_after_s=300)


def _machine(session: Session, name: str, last_seen: datetime | None, retired: bool = False) -> int:
    machine = register_machine(session, "plant", "line1", name)
    machine.last_seen_at = last_seen
    machine.retired_at = NOW - timedelta(days=1) if retired else None
    session.flush()
    return machine.id


def _alerts(session: Session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_opens_updates_and_resolves_silent_alerts(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        quiet = _machine(session, "quiet", NOW - timedelta(minutes=7))
        busy = _machine(session, "busy", NOW - timedelta(seconds=10))
        _machine(session, "never-seen", None)
        _machine(session, "retired", NOW - timedelta(days=3), retired=True)

    with transaction(session_factory) as session:
        summary = silent_machines(session, SETTINGS, NOW)
    assert summary == {"checked": 2, "silent": 1, "opened": 1, "updated": 0, "resolved": 0}
    with session_factory() as session:
        (alert,) = _alerts(session)
    assert (alert.machine_id, alert.rule, alert.severity, alert.state) == (quiet, "silent", "warning", "open")
    assert alert.message == "no reading for 7 min (threshold 5 min)"
    assert alert.count == 1 and alert.opened_at == NOW

    later = NOW + timedelta(minutes=3)
    with transaction(session_factory) as session:
        summary = silent_machines(session, SETTINGS, later)
    assert summary["opened"] == 0 and summary["updated"] == 1
    with session_factory() as session:
        (alert,) = _alerts(session)
    assert alert.count == 2 and alert.last_seen_at == later and alert.opened_at == NOW
    assert alert.message == "no reading for 10 min (threshold 5 min)"

    # The machine reports again: its alert is resolved by the system, and stays resolved.
    with transaction(session_factory) as session:
        session.get_one(Machine, quiet).last_seen_at = later
        summary = silent_machines(session, SETTINGS, later + timedelta(seconds=30))
    assert summary["resolved"] == 1 and summary["silent"] == 0
    with session_factory() as session:
        (alert,) = _alerts(session)
    assert alert.state == "resolved" and alert.resolved_by == "system"

    # Silent again later (while `busy` keeps reporting): a new alert, the resolved one is not reopened.
    with transaction(session_factory) as session:
        session.get_one(Machine, busy).last_seen_at = later + timedelta(hours=3)
        summary = silent_machines(session, SETTINGS, later + timedelta(hours=3))
    assert summary["opened"] == 1
    with session_factory() as session:
        first, second = _alerts(session)
    assert first.state == "resolved" and second.state == "open" and second.count == 1
    assert second.message == "no reading for 3 h (threshold 5 min)"


def test_acknowledged_alert_is_updated_not_duplicated(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _machine(session, "quiet", NOW - timedelta(minutes=30))
        silent_machines(session, SETTINGS, NOW)
    with transaction(session_factory) as session:
        (alert,) = _alerts(session)
        alert.state = "acknowledged"
    with transaction(session_factory) as session:
        silent_machines(session, SETTINGS, NOW + timedelta(minutes=1))
    with session_factory() as session:
        (alert,) = _alerts(session)
    assert alert.state == "acknowledged" and alert.count == 2


def test_exactly_at_the_threshold_is_not_silent(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _machine(session, "edge", NOW - timedelta(seconds=300))
        assert silent_machines(session, SETTINGS, NOW)["silent"] == 0
        assert silent_machines(session, SETTINGS, NOW + timedelta(seconds=1))["silent"] == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (119.9, "119 s"), (120, "2 min"), (7199, "119 min"), (7200, "2 h"), (172800, "2 d")],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_many_silent_machines_take_one_lock(session_factory: sessionmaker[Session]) -> None:
    # A plant-wide network outage silences every machine at once: the job must not take a lock per
    # machine (PostgreSQL's lock table holds max_locks_per_transaction x max_connections in all).
    with transaction(session_factory) as session:
        for i in range(50):
            _machine(session, f"m{i}", NOW - timedelta(hours=1))
    with transaction(session_factory) as session:
        assert silent_machines(session, SETTINGS, NOW)["opened"] == 50
        advisory = session.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        )
    assert advisory == 1


def test_silent_thresholds_per_line_and_machine(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        quiet = _machine(session, "quiet", NOW - timedelta(minutes=7))
        night = register_machine(session, "plant", "night-line", "n1")
        night.last_seen_at = NOW - timedelta(hours=2)
        long_gone = _machine(session, "long-gone", NOW - timedelta(hours=3))
        session.flush()
        # The night line is quiet by design; long-gone is critical after 2 h of silence.
        off = AlertRule(rule="silent", line_id=night.line_id, enabled=False, hysteresis=0, min_duration_s=0)
        strict = AlertRule(
            rule="silent", machine_id=long_gone, warning=600, critical=7200, hysteresis=0, min_duration_s=0
        )
        session.add_all([off, strict])
    with transaction(session_factory) as session:
        summary = silent_machines(session, SETTINGS, NOW)
        found = {a.machine_id: (a.severity, a.message) for a in _alerts(session)}
    assert summary["silent"] == 2
    assert found == {
        quiet: ("warning", "no reading for 7 min (threshold 5 min)"),
        long_gone: ("critical", "no reading for 3 h (threshold 2 h)"),
    }
