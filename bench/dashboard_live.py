"""The machine bench.dashboard opens on the Machine page, made live: what an engineer sees of a machine
that is running, not of one silent since the database was seeded.

The seeded readings end where they ended when bench.api_seed wrote them, often hours or days before
a later run, and each machine has one prediction from then: the Machine page's default range (the
last hour) would show no trend and no RUL history, the lightest page there is. `make_live` gives the
machine what a running one has over the last hour: its 20 sensors every 10 s, a prediction every
5 minutes (shaped as the scoring job writes them) and a maintenance event. Run after run it only adds
what is missing (readings are idempotent; predictions and the event are skipped where they exist).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bench.api_seed import degrading_step, prediction_row
from db.engine import transaction
from db.repositories.readings import ReadingRow, insert_readings
from db.tables import Machine, MachineEvent, Prediction

log = logging.getLogger("bench.dashboard")

LIVE_MACHINE = "bench/line0/m000"  # one of the machines seeded with readings
SPAN = timedelta(hours=1)
READING_EVERY = timedelta(seconds=10)
PREDICTION_EVERY = timedelta(minutes=5)


def make_live(factory: sessionmaker[Session], path: str = LIVE_MACHINE) -> dict[str, int]:
    """Readings, predictions and an event for `path` over the last hour; how many of each were added."""
    step_s = READING_EVERY.total_seconds()
    now = datetime.fromtimestamp(datetime.now(UTC).timestamp() // step_s * step_s, UTC)  # on the grid
    rng = np.random.default_rng(int(now.timestamp()))
    with transaction(factory) as session:
        machine = session.scalars(select(Machine).where(Machine.path == path)).one()
        steps = int(SPAN / READING_EVERY)
        rows: list[ReadingRow] = [
            (machine.id, now - SPAN + k * READING_EVERY, None, degrading_step(rng, 0.5 + 0.5 * k / steps))
            for k in range(steps + 1)
        ]
        readings = len(insert_readings(session, rows))
        session.execute(update(Machine).where(Machine.id == machine.id).values(last_seen_at=now))
        predictions = _predictions(session, machine.id, now)
        recent = select(MachineEvent.id).where(
            MachineEvent.machine_id == machine.id, MachineEvent.ts > now - SPAN
        )
        events = 0
        if session.scalars(recent).first() is None:
            session.add(
                MachineEvent(machine_id=machine.id, kind="maintenance", ts=now - SPAN / 2, note="bench")
            )
            events = 1
    added = {"readings": readings, "predictions": predictions, "events": events}
    log.info("%s made live: %s", path, added)
    return added


def _predictions(session: Session, machine_id: int, now: datetime) -> int:
    """A prediction every PREDICTION_EVERY of the last hour where there is none, like the latest one
    with a falling RUL."""
    latest = session.scalars(
        select(Prediction).where(Prediction.machine_id == machine_id).order_by(Prediction.made_at.desc())
    ).first()
    if latest is None or latest.rul is None:
        return 0
    made = set(
        session.scalars(
            select(Prediction.made_at).where(
                Prediction.machine_id == machine_id, Prediction.made_at > now - SPAN
            )
        )
    )
    step_s = PREDICTION_EVERY.total_seconds()
    last = datetime.fromtimestamp(now.timestamp() // step_s * step_s, UTC)
    times = [last - k * PREDICTION_EVERY for k in range(int(SPAN / PREDICTION_EVERY))]
    rows = []
    for ts in (t for t in times if t not in made):
        rul = latest.rul + (last - ts) / PREDICTION_EVERY  # one cycle per step, counting down to now
        rows.append(prediction_row(machine_id, latest.model_version_id, ts, rul, latest.detail))
    if rows:
        session.execute(insert(Prediction), rows)
    return len(rows)
