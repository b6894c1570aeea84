"""The alert engine's job on a real database: minimum duration, hysteresis, data-quality holds,
overrides, escalation and shelving, each visible in the alert and its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine, register_sensors
from db.repositories.readings import ReadingRow, insert_readings
from db.rollups import refresh_rollups
from db.tables import Alert, AlertEvent, AlertRule, Machine, Prediction, Sensor
from jobs.evaluate_alerts import evaluate_alerts
from plantwatch.settings import Settings
from services import alerts

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
SETTINGS = Settings(alert_min_duration_s=300, score_interval_s=300, alert_escalate_after_s=1800)


def _machine(session: Session, name: str = "press") -> int:
    return register_machine(session, "plant", "line1", name).id


def _predict(factory: sessionmaker[Session], machine_id: int, at: datetime, rul: float | None,
             status: str = "ok", probability: float = 0.0) -> None:  # fmt: skip
    with transaction(factory) as session:
        session.add(Prediction(machine_id=machine_id, made_at=at, status=status, rul=rul,
                               failure_probability=probability, detail={"top_sensors": ["vib"]}))  # fmt: skip


def _run(factory: sessionmaker[Session], at: datetime, settings: Settings = SETTINGS) -> dict:
    with transaction(factory) as session:
        return evaluate_alerts(session, settings, at)


def _alerts(factory: sessionmaker[Session], rule: str) -> list[tuple[str, str, int]]:
    with transaction(factory) as session:
        rows = session.scalars(select(Alert).where(Alert.rule == rule).order_by(Alert.id))
        return [(a.state, a.severity, a.count) for a in rows]


def _history(factory: sessionmaker[Session], rule: str) -> list[str]:
    with transaction(factory) as session:
        query = select(AlertEvent.kind).join(Alert, Alert.id == AlertEvent.alert_id).where(Alert.rule == rule)
        return list(session.scalars(query.order_by(AlertEvent.id)))


def test_rul_alert_waits_for_its_duration_steps_with_hysteresis_and_resolves(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        m = _machine(session)
    steps = [  # minutes after T0, predicted RUL, expected (state, severity) of the rul_low alert
        (0, 40, None),  # below warning (50), but not yet for 5 minutes
        (5, 38, ("open", "warning")),
        (6, 15, ("open", "warning")),  # critical, pending
        (11, 14, ("open", "critical")),
        (12, 25, ("open", "critical")),  # within hysteresis (10) of critical (20)
        (13, 35, ("open", "warning")),  # lowering is immediate
        (14, 58, ("open", "warning")),  # within hysteresis of warning
        (15, 70, ("resolved", "warning")),
    ]
    for minute, rul, expected in steps:
        at = T0 + timedelta(minutes=minute)
        _predict(session_factory, m, at, rul)
        _run(session_factory, at)
        found = _alerts(session_factory, "rul_low")
        assert (found[-1][:2] if found else None) == expected, (minute, rul, found)
    assert len(_alerts(session_factory, "rul_low")) == 1
    assert _history(session_factory, "rul_low") == [
        "opened", "severity_raised", "severity_lowered", "resolved",
    ]  # fmt: skip


def test_a_blip_opens_nothing_and_missing_figures_change_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        m = _machine(session)
    _predict(session_factory, m, T0, 10)
    _run(session_factory, T0)
    _predict(session_factory, m, T0 + timedelta(minutes=2), 90)
    _run(session_factory, T0 + timedelta(minutes=2))
    _predict(session_factory, m, T0 + timedelta(minutes=6), 10)
    _run(session_factory, T0 + timedelta(minutes=6))
    assert _alerts(session_factory, "rul_low") == [], (
        "a condition broken by a healthy figure restarts its wait"
    )
    _run(session_factory, T0 + timedelta(minutes=11))
    assert _alerts(session_factory, "rul_low") == [("open", "critical", 1)]
    # A withheld prediction, then no fresh one at all: the alert stays as it is.
    _predict(session_factory, m, T0 + timedelta(minutes=12), None, status="withheld")
    _run(session_factory, T0 + timedelta(minutes=12))
    _run(session_factory, T0 + timedelta(hours=3))
    assert _alerts(session_factory, "rul_low") == [("open", "critical", 1)]


def test_overrides_and_failure_probability(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        m = _machine(session)
        line_id = session.get_one(Machine, m).line_id
        session.add(AlertRule(rule="failure_probability_high", line_id=line_id, enabled=True, warning=0.3,
                              critical=None, hysteresis=0.0, min_duration_s=0))  # fmt: skip
    _predict(session_factory, m, T0, 90, probability=0.35)
    _run(session_factory, T0)
    assert _alerts(session_factory, "failure_probability_high") == [("open", "warning", 1)]
    with transaction(session_factory) as session:
        session.scalars(select(AlertRule)).one().enabled = False
    _run(session_factory, T0 + timedelta(minutes=1))
    assert _alerts(session_factory, "failure_probability_high") == [("resolved", "warning", 1)]


def _readings(session: Session, machine_id: int, minutes: int, values: list[float]) -> None:
    start = T0 - timedelta(minutes=minutes)
    rows: list[ReadingRow] = [
        (machine_id, start + timedelta(seconds=20 * k), None, list(values)) for k in range(minutes * 3)
    ]
    insert_readings(session, rows)


def test_unhealthy_sensors_raise_their_own_alert_and_hold_prediction_alerts(
    session_factory: sessionmaker[Session],
) -> None:
    settings = SETTINGS.model_copy(update={"alert_min_duration_s": 0, "alert_stuck_after_s": 1800})
    with transaction(session_factory) as session:
        stuck, hot, fine = (_machine(session, name) for name in ("stuck", "hot", "fine"))
        for machine_id in (stuck, hot, fine):
            register_sensors(session, machine_id, ["temp", "vib"])
        session.scalars(
            select(Sensor).where(Sensor.machine_id == hot, Sensor.name == "temp")
        ).one().normal_max = 100
        _readings(session, stuck, 40, [70.0, 0.5])  # the same values for 40 minutes
        # Three hours earlier its temperature moved (vib never did: constant by nature, never "stuck").
        earlier: list[ReadingRow] = [
            (stuck, T0 - timedelta(hours=3, minutes=k), None, [60.0 + k, 0.5]) for k in range(30)
        ]
        insert_readings(session, earlier)
        _readings(session, hot, 40, [150.0, 0.5])
        session.flush()
        for k, (machine_id, temp) in enumerate(((hot, 150.0), (fine, 70.0))):
            # hot's vib and fine's sensors move, so only hot's temperature and the stuck machine are unhealthy
            start = T0 - timedelta(minutes=40, seconds=-7 - k)
            rows: list[ReadingRow] = [
                (machine_id, start + timedelta(seconds=20 * i), None, [temp + (i % 3), 0.5 + 0.01 * i])
                for i in range(120)
            ]
            insert_readings(session, rows)
        refresh_rollups(session, until=T0, lateness=timedelta(0))
    for machine_id in (stuck, hot, fine):
        _predict(session_factory, machine_id, T0, 5)
    figures = _run(session_factory, T0, settings)
    with transaction(session_factory) as session:
        found = {(a.machine_id, a.rule): a for a in session.scalars(select(Alert))}
        names = {a.machine_id: a.detail for a in found.values()}
    assert set(found) == {(stuck, "sensor_stuck"), (hot, "sensor_out_of_range"), (fine, "rul_low")}, names
    assert "temp" in found[(hot, "sensor_out_of_range")].message
    assert [s["sensor"] for s in found[(stuck, "sensor_stuck")].detail["sensors"]] == ["temp"]
    assert figures["rul_low"] == {"held": 2, "opened": 1}

    # Retiring the faulty sensor clears its alert: hot's temperature, and every sensor of the stuck
    # machine (a machine with no sensor in service left is still visited, so its alert resolves).
    with transaction(session_factory) as session:
        for sensor in session.scalars(select(Sensor).where(Sensor.machine_id.in_([hot, stuck]))):
            if sensor.machine_id == stuck or sensor.name == "temp":
                sensor.retired_at = T0
    _run(session_factory, T0, settings)
    with transaction(session_factory) as session:
        states = {(a.machine_id, a.rule): a.state for a in session.scalars(select(Alert))}
    assert states[(hot, "sensor_out_of_range")] == "resolved"
    assert states[(stuck, "sensor_stuck")] == "resolved"


def test_escalation_once_shelving_expiry_and_retired_machines(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        kept, retired = _machine(session, "kept"), _machine(session, "retired")
        first = alerts.raise_or_update(session, kept, "rul_low", "warning", "low", T0)
        alerts.shelve(session, first, "eve", T0 + timedelta(minutes=10), T0, "known")
        alerts.raise_or_update(session, retired, "rul_low", "warning", "low", T0)
        session.get_one(Machine, retired).retired_at = T0
    _run(session_factory, T0 + timedelta(minutes=20))  # shelving over; not yet due for escalation
    _run(session_factory, T0 + timedelta(minutes=31))
    _run(session_factory, T0 + timedelta(minutes=32))
    with transaction(session_factory) as session:
        by_machine = {a.machine_id: a for a in session.scalars(select(Alert))}
        assert by_machine[retired].state == "resolved"
        assert by_machine[kept].shelved_until is None
        assert by_machine[kept].escalated_at == T0 + timedelta(minutes=31)
    assert _history(session_factory, "rul_low").count("escalated") == 1
    assert _history(session_factory, "rul_low").count("unshelved") == 1
