"""The alert lifecycle: one active alert per machine and rule, open → acknowledged → resolved."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from db.tables import Alert, AlertEvent, MachineEvent
from services import alerts

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def machines(session_factory: sessionmaker[Session]) -> list[int]:
    with transaction(session_factory) as session:
        return [register_machine(session, "plant", "line", f"m{i}").id for i in range(3)]


def test_repeats_bump_the_active_alert(session_factory: sessionmaker[Session], machines: list[int]) -> None:
    m = machines[0]
    with transaction(session_factory) as session:
        first = alerts.raise_or_update(session, m, "vibration", "warning", "high", NOW)
        again = alerts.raise_or_update(
            session, m, "vibration", "critical", "higher", NOW + timedelta(minutes=1)
        )
        other_rule = alerts.raise_or_update(session, m, "temperature", "info", "warm", NOW)
        other_machine = alerts.raise_or_update(session, machines[1], "vibration", "warning", "high", NOW)
    assert again.id == first.id and again.count == 2
    assert (again.severity, again.message, again.last_seen_at, again.opened_at) == (
        "critical",
        "higher",
        NOW + timedelta(minutes=1),
        NOW,
    )
    assert len({first.id, other_rule.id, other_machine.id}) == 3


def test_acknowledge_then_resolve(session_factory: sessionmaker[Session], machines: list[int]) -> None:
    with transaction(session_factory) as session:
        alert_id = alerts.raise_or_update(session, machines[0], "rul", "critical", "RUL 20 h", NOW).id
    with transaction(session_factory) as session:
        acked = alerts.acknowledge(session, alert_id, "eve", "bearing ordered", NOW + timedelta(minutes=5))
    assert (acked.state, acked.acknowledged_by, acked.comment) == ("acknowledged", "eve", "bearing ordered")
    with transaction(session_factory) as session:
        # Still active while acknowledged: a repeat updates it.
        assert alerts.raise_or_update(session, machines[0], "rul", "critical", "RUL 19 h", NOW).id == alert_id
        with pytest.raises(alerts.AlertStateError, match="only an open alert"):
            alerts.acknowledge(session, alert_id, "eve", None, NOW)
    with transaction(session_factory) as session:
        resolved = alerts.resolve(session, alert_id, "frank", NOW + timedelta(hours=2), comment="replaced")
    assert resolved.state == "resolved" and resolved.resolved_by == "frank"
    assert resolved.resolved_at == NOW + timedelta(hours=2)
    assert resolved.comment == "bearing ordered\nreplaced"


def test_resolved_alerts_are_never_reopened(
    session_factory: sessionmaker[Session], machines: list[int]
) -> None:
    with transaction(session_factory) as session:
        alert = alerts.raise_or_update(session, machines[0], "rul", "warning", "low RUL", NOW)
        alerts.resolve(session, alert, "system", NOW)
    with transaction(session_factory) as session:
        with pytest.raises(alerts.AlertStateError, match="already resolved"):
            alerts.resolve(session, alert.id, "someone", NOW)
        with pytest.raises(alerts.AlertStateError):
            alerts.acknowledge(session, alert.id, "someone", None, NOW)
        fresh = alerts.raise_or_update(session, machines[0], "rul", "warning", "low RUL", NOW)
    assert fresh.id != alert.id and fresh.state == "open" and fresh.count == 1
    with session_factory() as session:
        assert session.get_one(Alert, alert.id).state == "resolved"


def test_unknown_alert_and_bad_severity(session_factory: sessionmaker[Session], machines: list[int]) -> None:
    with transaction(session_factory) as session:
        with pytest.raises(alerts.AlertNotFoundError):
            alerts.acknowledge(session, 999, "x", None, NOW)
        with pytest.raises(alerts.AlertNotFoundError):
            alerts.resolve(session, 999, "x", NOW)
        with pytest.raises(ValueError, match="severity"):
            alerts.raise_or_update(session, machines[0], "rul", "apocalyptic", "", NOW)


def test_resolve_cleared(session_factory: sessionmaker[Session], machines: list[int]) -> None:
    a, b, c = machines
    with transaction(session_factory) as session:
        for m in machines:
            alerts.raise_or_update(session, m, "silent", "warning", "quiet", NOW)
        alerts.raise_or_update(session, a, "rul", "warning", "low", NOW)
        alerts.acknowledge(
            session, alerts.raise_or_update(session, b, "silent", "warning", "q", NOW), "x", None, NOW
        )
    with transaction(session_factory) as session:
        assert alerts.resolve_cleared(session, "silent", [c], NOW + timedelta(minutes=1)) == 2
    with transaction(session_factory) as session:
        assert alerts.resolve_cleared(session, "silent", [c], NOW + timedelta(minutes=2)) == 0
    with session_factory() as session:
        rows = {(r.machine_id, r.rule): r for r in session.scalars(select(Alert))}
    assert rows[(a, "silent")].state == rows[(b, "silent")].state == "resolved"
    assert rows[(a, "silent")].resolved_by == "system"
    assert rows[(c, "silent")].state == "open" and rows[(a, "rul")].state == "open"
    with transaction(session_factory) as session:
        assert alerts.resolve_cleared(session, "silent", [], NOW) == 1


def test_concurrent_raises_open_one_alert(
    session_factory: sessionmaker[Session], machines: list[int]
) -> None:
    barrier = threading.Barrier(6)

    def raise_one(_: int) -> int:
        barrier.wait()
        with transaction(session_factory) as session:
            return alerts.raise_or_update(session, machines[0], "silent", "warning", "quiet", NOW).id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(raise_one, range(6)))
    with session_factory() as session:
        (alert,) = session.scalars(select(Alert))
    assert ids == {alert.id} and alert.count == 6


def _kinds(session: Session, alert_id: int) -> list[str]:
    query = select(AlertEvent.kind).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
    return list(session.scalars(query))


def test_history_records_every_step_but_repeats(
    session_factory: sessionmaker[Session], machines: list[int]
) -> None:
    with transaction(session_factory) as session:
        alert = alerts.raise_or_update(session, machines[0], "rul_low", "warning", "low", NOW)
        alerts.raise_or_update(session, machines[0], "rul_low", "warning", "lower", NOW)
        alerts.raise_or_update(session, machines[0], "rul_low", "critical", "very low", NOW)
        alerts.raise_or_update(session, machines[0], "rul_low", "warning", "better", NOW)
        alerts.comment(session, alert, "eve", "checking", NOW)
        alerts.shelve(session, alert, "eve", NOW + timedelta(hours=1), NOW, None)
        with pytest.raises(alerts.AlertStateError):
            alerts.shelve(session, alert, "eve", NOW - timedelta(hours=1), NOW, None)
        alerts.unshelve(session, alert, "eve", NOW)
        with pytest.raises(alerts.AlertStateError):
            alerts.unshelve(session, alert, "eve", NOW)
        alerts.acknowledge(session, alert, "eve", None, NOW)
        alerts.resolve_cleared(session, "rul_low", [], NOW)
        assert alert.count == 4 and alert.state == "resolved"
        assert _kinds(session, alert.id) == [
            "opened", "severity_raised", "severity_lowered", "commented", "shelved", "unshelved",
            "acknowledged", "resolved",
        ]  # fmt: skip


def test_outcomes_label_maintenance_and_false_alarms(
    session_factory: sessionmaker[Session], machines: list[int]
) -> None:
    with transaction(session_factory) as session:
        found = alerts.raise_or_update(session, machines[0], "rul_low", "critical", "low", NOW)
        alerts.record_outcome(session, found, "fault_found", "mes-key", NOW, fault_code="BRG-12",
                              work_order_id="WO-1", done_at=NOW - timedelta(minutes=5))  # fmt: skip
        false_alarm = alerts.raise_or_update(session, machines[1], "rul_low", "warning", "low", NOW)
        alerts.resolve(session, false_alarm, "eve", NOW)
        alerts.record_outcome(session, false_alarm, "no_fault_found", "mes-key", NOW)
        with pytest.raises(alerts.AlertStateError, match="already has the outcome"):
            alerts.record_outcome(session, false_alarm, "part_replaced", "mes-key", NOW)
        with pytest.raises(alerts.AlertStateError, match="outcome must be"):
            alerts.record_outcome(session, found, "fixed?", "mes-key", NOW)
        events = session.scalars(select(MachineEvent).order_by(MachineEvent.id)).all()
        assert [(e.machine_id, e.kind, e.ts, e.work_order_id) for e in events] == [
            (machines[0], "maintenance", NOW - timedelta(minutes=5), "WO-1"),
        ]
        assert "BRG-12" in events[0].note
        assert (found.state, found.resolved_by, found.outcome) == ("resolved", "mes-key", "fault_found")
        assert _kinds(session, found.id)[-2:] == ["outcome", "resolved"]
        assert _kinds(session, false_alarm.id)[-1] == "outcome" and false_alarm.resolved_by == "eve"
