"""Sensor features: gap filling within runs, dead/constant sensor dropping and min-max scaling.

The scaler is fitted on training rows only and travels with the model as plain JSON (`to_dict`),
together with the list of sensors it dropped, so that serving applies exactly the training transform.
A sensor is dropped when it is dead (no value at all in the training rows) or (near) constant by the
usual near-zero-variance rule: a single distinct value, or a most-common to second-most-common value
ratio above 19 (95/5) while fewer than 10% of the values are distinct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.windows import Runs

FREQ_RATIO_CUT = 95 / 5
UNIQUE_FRACTION_CUT = 0.10


class MissingSensorError(ValueError):
    """A sensor the model needs has no value at all in a run or window, so it cannot be filled."""


def fill_gaps(values: NDArray[np.floating], runs: Runs) -> NDArray[np.float64]:
    """NaNs forward-filled within each run (leading NaNs back-filled from the run's first value).

    Values never leak across runs. A sensor with no value in a whole run stays NaN here: callers that
    need it raise `MissingSensorError` (see `require_complete`).
    """
    data: NDArray[np.float64] = np.asarray(values, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] != runs.total:
        raise ValueError(f"values must be [rows={runs.total}, sensors], got {data.shape}")
    if not np.isnan(data).any():
        return data
    values = data
    rows = np.arange(runs.total)[:, None]
    start = runs.starts[runs.run_of_row()][:, None]
    end = start + runs.lengths[runs.run_of_row()][:, None] - 1
    valid = ~np.isnan(values)
    # Index of the last valid row so far; rows before their run's first valid value get -1.
    last = np.maximum.accumulate(np.where(valid, rows, -1), axis=0)
    last = np.where(last >= start, last, -1)
    # Index of the next valid row (for leading gaps); beyond the run's end counts as none.
    big = runs.total
    nxt = np.minimum.accumulate(np.where(valid, rows, big)[::-1], axis=0)[::-1]
    nxt = np.where(nxt <= end, nxt, -1)
    source = np.where(last >= 0, last, nxt)
    columns = np.broadcast_to(np.arange(values.shape[1]), values.shape)
    filled = values[np.maximum(source, 0), columns]
    return np.where(source >= 0, filled, np.nan)


def require_complete(values: NDArray[np.floating], runs: Runs, names: list[str]) -> None:
    """Raise `MissingSensorError` naming the first sensor and run that have no value at all."""
    missing = np.isnan(values)
    if not missing.any():
        return
    nonempty = np.flatnonzero(runs.lengths > 0)
    counts = np.add.reduceat(missing.astype(np.int64), runs.starts[nonempty], axis=0)
    whole = np.argwhere(counts == runs.lengths[nonempty][:, None])
    if not len(whole):
        return
    run, sensor = int(nonempty[whole[0][0]]), int(whole[0][1])
    raise MissingSensorError(
        f"sensor {names[sensor]!r} has no value in run {run} ({runs.lengths[run]} rows): "
        "it cannot be filled; check that the machine still reports it"
    )


def near_constant(column: NDArray[np.floating]) -> bool:
    """The near-zero-variance rule on one column of training values (NaNs ignored)."""
    present = column[~np.isnan(column)]
    if present.size == 0:
        return True
    _, counts = np.unique(present, return_counts=True)
    if counts.size == 1:
        return True
    top2 = np.sort(counts)[-2:]
    return bool(top2[1] / top2[0] > FREQ_RATIO_CUT and counts.size / present.size < UNIQUE_FRACTION_CUT)


@dataclass(frozen=True)
class FeatureScaler:
    """Keeps the informative sensors and maps each to [0, 1] by its training minimum and maximum."""

    sensor_names: list[str]  # every input sensor, in input column order
    kept: list[int]  # column indices of the sensors the model uses
    minimum: list[float]  # per kept sensor
    maximum: list[float]

    @classmethod
    def fit(cls, values: NDArray[np.floating], sensor_names: list[str]) -> FeatureScaler:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(sensor_names):
            raise ValueError(f"values {values.shape} do not match {len(sensor_names)} sensor names")
        kept = [j for j in range(values.shape[1]) if not near_constant(values[:, j])]
        if not kept:
            raise ValueError("every sensor is constant or dead in the training data: nothing to learn from")
        lo = np.nanmin(values[:, kept], axis=0)
        hi = np.nanmax(values[:, kept], axis=0)
        return cls(list(sensor_names), kept, [float(v) for v in lo], [float(v) for v in hi])

    @property
    def dropped(self) -> list[str]:
        kept = set(self.kept)
        return [name for j, name in enumerate(self.sensor_names) if j not in kept]

    @property
    def kept_names(self) -> list[str]:
        return [self.sensor_names[j] for j in self.kept]

    def transform(self, values: NDArray[np.floating]) -> NDArray[np.float32]:
        """Scaled kept sensors; works on [..., all sensors] arrays (rows or windows)."""
        values = np.asarray(values)
        if values.shape[-1] != len(self.sensor_names):
            raise ValueError(f"expected {len(self.sensor_names)} sensors, got {values.shape[-1]}")
        return self.transform_kept(values[..., self.kept])

    def transform_kept(self, kept_values: NDArray[np.floating]) -> NDArray[np.float32]:
        """Scaled values of arrays that already hold only the kept sensors, in `kept` order."""
        lo = np.asarray(self.minimum)
        span = np.asarray(self.maximum) - lo
        span = np.where(span > 0, span, 1.0)
        return ((np.asarray(kept_values) - lo) / span).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensor_names": self.sensor_names,
            "kept": self.kept,
            "dropped": self.dropped,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureScaler:
        names = [str(n) for n in data["sensor_names"]]
        kept = [int(j) for j in data["kept"]]
        lo = [float(v) for v in data["minimum"]]
        hi = [float(v) for v in data["maximum"]]
        if not kept or len(lo) != len(kept) or len(hi) != len(kept) or max(kept) >= len(names):
            raise ValueError("inconsistent scaler description")
        return cls(names, kept, lo, hi)
