"""A small plant for the RUL tests: machines whose sensors drift within each run, cut by events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from db.repositories.assets import register_machine, register_sensors
from db.repositories.events import add_event
from db.repositories.readings import ReadingRow, insert_readings
from plantwatch.settings import Settings

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RUN = 24  # readings per run, one a minute


def tiny_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rul_window": 4,
            "rul_cap": 15.0,
            "rul_epochs": 1,
            "rul_lstm_units": 4,
            "rul_min_failed_runs": 3,
        }
    )


def add_machine(
    session: Session,
    name: str,
    machine_type: str | None,
    events: list[str],
    sensors: tuple[str, ...] = ("temp", "vib", "flat"),
) -> int:
    """One machine: a degrading run per event (`failure` or `maintenance`), then a still-running part.

    Returns its id. Its readings start at T0, one a minute: RUN per event, then 6.
    """
    machine = register_machine(session, "site", "line", name)
    machine.machine_type = machine_type
    if machine.id % 2:  # sensors at other positions on some machines: they are matched by name
        register_sensors(session, machine.id, ["vib"])
    positions = register_sensors(session, machine.id, list(sensors))
    rng = np.random.default_rng(machine.id)
    rows: list[ReadingRow] = []
    ts = T0
    for event in [*events, None]:
        for k in range(RUN if event is not None else 6):
            wear = k / RUN
            named = {"temp": 60 + 30 * wear + rng.normal(), "vib": wear + 0.05 * rng.normal(), "flat": 1.0}
            values: list[float | None] = [None] * max(positions.values())
            for sensor, position in positions.items():
                values[position - 1] = named[sensor]
            rows.append((machine.id, ts, None, values))
            ts += timedelta(minutes=1)
        if event is not None:
            add_event(session, machine_id=machine.id, kind=event, ts=ts - timedelta(seconds=30), note="",
                      work_order_id=None, created_by=None)  # fmt: skip
    insert_readings(session, rows)
    return machine.id
