"""The recent sensor window of each machine, as the models read it, with what is missing from it.

Readings are taken one per cycle, or averaged into buckets of `resample_s` seconds like the training
data (`jobs.training_data`), and laid out in the model's sensor order (NaN where a machine lacks a
sensor or a reading lacks a value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from db.repositories import readings as readings_repo
from jobs.training_data import resample

# With resampling, a window is read from this many readings at most per machine.
MAX_RESAMPLED_ROWS = 200_000


@dataclass(frozen=True)
class MachineWindow:
    values: NDArray[np.float64]  # [steps <= window, sensors], oldest first
    last_reading: datetime | None
    missing_sensors: list[str]  # of the wanted sensors, those the machine does not have
    # Fewer steps than the window because the machine's readings begin there, not because some are
    # missing: its whole history, which a model may score padded (RulConfig.min_history).
    whole_history: bool = False


def recent_windows(
    session: Session,
    positions: dict[int, dict[str, int]],
    sensor_names: Sequence[str],
    window: int,
    resample_s: int,
    now: datetime,
) -> dict[int, MachineWindow]:
    """machine id → its newest `window` steps up to `now` (fewer if it has fewer), for `positions`."""
    ids = sorted(positions)
    if resample_s > 0:
        since = now - timedelta(seconds=(window + 1) * resample_s)
        recent = readings_repo.recent_rows(session, ids, MAX_RESAMPLED_ROWS, since=since, until=now)
    else:
        recent = readings_repo.recent_rows(session, ids, window, until=now)
    out: dict[int, MachineWindow] = {}
    for machine_id in ids:
        rows = recent.get(machine_id, [])
        columns = [positions[machine_id].get(name) for name in sensor_names]
        values = np.full((len(rows), len(sensor_names)), np.nan)
        for i, (_, row) in enumerate(rows):
            for j, position in enumerate(columns):
                if position is not None and position <= len(row) and row[position - 1] is not None:
                    values[i, j] = row[position - 1]
        stamps = [ts for ts, _ in rows]
        if resample_s > 0 and rows:
            stamps, values = resample(stamps, values, resample_s)
        missing = [name for name, position in zip(sensor_names, columns, strict=True) if position is None]
        out[machine_id] = MachineWindow(
            values=values[-window:], last_reading=rows[-1][0] if rows else None, missing_sensors=missing
        )
    short = {m: recent[m][0][0] for m, w in out.items() if 0 < len(w.values) < window}
    older = readings_repo.machines_with_readings_before(session, short)
    for machine_id in short.keys() - older:
        out[machine_id] = replace(out[machine_id], whole_history=True)
    return out
