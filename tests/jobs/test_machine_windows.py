"""The recent window of each machine: whether a short one is the machine's whole history or has holes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine, register_sensors
from db.repositories.readings import insert_readings
from jobs.machine_windows import recent_windows
from tests.jobs.plant import T0


def test_a_short_window_is_the_whole_history_only_when_no_older_reading_exists(
    session_factory: sessionmaker[Session],
) -> None:
    now = T0 + timedelta(hours=3)
    minutes = {
        "new": [-3, -2, -1],  # connected three minutes ago
        "outage": [-120, -3, -2, -1],  # read two hours ago, then nothing until three minutes ago
        "full": [-5, -4, -3, -2, -1],
    }
    with transaction(session_factory) as session:
        positions = {}
        for name, offsets in minutes.items():
            machine = register_machine(session, "site", "line", name)
            positions[machine.id] = register_sensors(session, machine.id, ["temp"])
            insert_readings(
                session, [(machine.id, now + timedelta(minutes=m), None, [20.0]) for m in offsets]
            )
        for resample_s in (0, 60):
            windows = recent_windows(session, positions, ["temp"], 4, resample_s, now)
            by_name = dict(zip(minutes, (windows[m] for m in sorted(positions)), strict=True))
            assert len(by_name["new"].values) == 3 and by_name["new"].whole_history
            assert len(by_name["full"].values) == 4 and not by_name["full"].whole_history
            # one reading a minute: the outage machine's window reaches back to its old reading, unless
            # resampled into minutes, where only the last 5 minutes are read
            assert len(by_name["outage"].values) == (4 if resample_s == 0 else 3)
            assert not by_name["outage"].whole_history
