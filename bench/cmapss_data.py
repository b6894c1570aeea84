"""Reading and writing NASA C-MAPSS files (official format) and turning them into `models` inputs.

Format: space-separated, 26 columns per row: unit, cycle, 3 operating settings, 21 sensors; a RUL file
holds one true RUL per test unit, in unit order. Only the 21 sensors are model inputs (FD001 runs at one
operating condition); the models library drops the constant ones itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from models.config import RulConfig, RulDataset
from models.run_features import add_run_features, uses_run_features
from models.windows import Runs, last_windows

SENSOR_NAMES = [f"s{i}" for i in range(1, 22)]
COLUMNS = 26


@dataclass(frozen=True)
class Cmapss:
    """One C-MAPSS file: per-row unit and cycle numbers and the 21 sensor columns."""

    units: NDArray[np.int64]
    cycles: NDArray[np.int64]
    sensors: NDArray[np.float64]  # [rows, 21]

    @property
    def unit_ids(self) -> NDArray[np.int64]:
        return np.unique(self.units)

    def runs(self, rul_at_end: NDArray[np.float64] | None = None) -> Runs:
        """One run per unit, rows already sorted by (unit, cycle)."""
        _, lengths = np.unique(self.units, return_counts=True)
        return Runs.of(lengths, failed=np.ones(len(lengths), dtype=bool), rul_at_end=rul_at_end)

    def last_windows(self, config: RulConfig) -> NDArray[np.float32]:
        """Each unit's window at its last cycle, with the derived inputs `config` asks for."""
        runs = self.runs()
        if uses_run_features(config) and (self.cycles[runs.starts] != 1).any():
            raise ValueError("the run age and drift inputs need every series from its first cycle (1)")
        series = add_run_features(self.sensors, runs, config)
        return last_windows(series, runs, config.window)

    def dataset(self) -> RulDataset:
        """Training data: every unit runs to failure and is its own machine."""
        return RulDataset(
            values=self.sensors,
            sensor_names=list(SENSOR_NAMES),
            runs=self.runs(),
            machines=np.asarray([f"unit{u}" for u in self.unit_ids]),
        )


def read_cmapss(path: Path) -> Cmapss:
    data = np.loadtxt(path, ndmin=2)
    if data.shape[1] != COLUMNS:
        raise ValueError(f"{path}: expected {COLUMNS} columns (unit, cycle, 3 settings, 21 sensors)")
    order = np.lexsort((data[:, 1], data[:, 0]))
    data = data[order]
    return Cmapss(data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), data[:, 5:].copy())


def read_rul(path: Path) -> NDArray[np.float64]:
    return np.loadtxt(path, ndmin=1).astype(np.float64)


def write_cmapss(path: Path, rows: NDArray[np.float64]) -> None:
    """Rows of 26 columns in the official layout (integers for unit and cycle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = ["%d", "%d"] + ["%.4f"] * 2 + ["%.1f"] + ["%.4f"] * 21
    np.savetxt(path, rows, fmt=fmt, delimiter=" ")


def write_rul(path: Path, rul: NDArray[np.integer]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.asarray(rul), fmt="%d")
