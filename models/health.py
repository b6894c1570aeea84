"""A health index learned from normal operation: how far a machine's recent window is from healthy.

Until a machine type has enough failures to learn RUL, this still scores every machine. The baseline
is fitted on the first `healthy_fraction` of each run (a machine early in a run is taken as healthy):
per sensor mean and standard deviation, constant or dead sensors dropped. A window's distance is the
root mean square over sensors of the window-mean z-score. Distances of the healthy windows themselves
calibrate the score: 100 at or below their median, 50 at their 99th percentile, 0 at twice that far.
The sensors with the largest |z| are the ones that drove the score down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.config import InsufficientDataError
from models.explain import SensorContribution
from models.features import near_constant
from models.windows import Runs, build_windows

MIN_HEALTHY_WINDOWS = 10


@dataclass(frozen=True)
class HealthScores:
    score: NDArray[np.float64]  # 0 (far from normal) .. 100 (normal), per window
    distance: NDArray[np.float64]
    top_sensors: list[list[SensorContribution]]  # score = z of the sensor, largest |z| first


@dataclass(frozen=True)
class HealthBaseline:
    sensor_names: list[str]  # every input sensor, in input column order
    kept: list[int]  # columns used
    mean: list[float]  # per kept sensor
    std: list[float]
    window: int
    distance_median: float
    distance_q99: float
    healthy_windows: int

    @classmethod
    def fit(
        cls,
        values: NDArray[np.floating],
        runs: Runs,
        sensor_names: list[str],
        window: int,
        healthy_fraction: float = 0.5,
    ) -> HealthBaseline:
        """Fit on the first `healthy_fraction` of each run; InsufficientDataError when too little."""
        values = np.asarray(values, dtype=np.float64)
        healthy_lengths = np.floor(runs.lengths * healthy_fraction).astype(np.int64)
        run = runs.run_of_row()
        healthy = values[np.arange(runs.total) - runs.starts[run] < healthy_lengths[run]]
        nonempty = healthy_lengths[healthy_lengths > 0]
        healthy_runs = Runs.of(nonempty, np.zeros(len(nonempty), dtype=bool))
        kept = [j for j in range(values.shape[1]) if not near_constant(healthy[:, j])]
        if not kept:
            raise InsufficientDataError("every sensor is constant or dead while healthy: no health index")
        windows = build_windows(healthy, healthy_runs, window).x[:, :, kept]
        complete = ~np.isnan(windows).any(axis=(1, 2))
        if complete.sum() < MIN_HEALTHY_WINDOWS:
            raise InsufficientDataError(
                f"{int(complete.sum())} complete healthy windows of {window} steps; at least "
                f"{MIN_HEALTHY_WINDOWS} are needed to learn normal operation"
            )
        mean = np.nanmean(healthy[:, kept], axis=0)
        std = np.nanstd(healthy[:, kept], axis=0)
        std = np.where(std > 0, std, 1.0)
        distances = _distances(windows[complete], mean, std)
        median, q99 = (float(v) for v in np.quantile(distances, [0.5, 0.99]))
        return cls(
            sensor_names=list(sensor_names),
            kept=kept,
            mean=[float(v) for v in mean],
            std=[float(v) for v in std],
            window=window,
            distance_median=median,
            distance_q99=max(q99, median + 1e-9),
            healthy_windows=int(complete.sum()),
        )

    @property
    def kept_names(self) -> list[str]:
        return [self.sensor_names[j] for j in self.kept]

    def score(self, raw_windows: NDArray[np.floating], top_k: int = 3) -> HealthScores:
        """Score raw windows [N, W, all sensors] (any W >= 1; NaN ignored within a window)."""
        x = np.asarray(raw_windows, dtype=np.float64)
        if x.ndim != 3 or x.shape[2] != len(self.sensor_names):
            raise ValueError(f"expected windows [n, steps, {len(self.sensor_names)}], got {x.shape}")
        z = _window_z(x[:, :, self.kept], np.asarray(self.mean), np.asarray(self.std))
        distance = np.sqrt(np.nanmean(z**2, axis=1))
        spread = self.distance_q99 - self.distance_median
        score = 100.0 * np.clip(1.0 - 0.5 * (distance - self.distance_median) / spread, 0.0, 1.0)
        names = self.kept_names
        order = np.argsort(-np.nan_to_num(np.abs(z)), axis=1, kind="stable")[:, :top_k]
        top = [
            [SensorContribution(names[j], round(float(row[j]), 3)) for j in idx if np.isfinite(row[j])]
            for row, idx in zip(z, order, strict=True)
        ]
        return HealthScores(score=score, distance=distance, top_sensors=top)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensor_names": self.sensor_names,
            "kept": self.kept,
            "mean": self.mean,
            "std": self.std,
            "window": self.window,
            "distance_median": self.distance_median,
            "distance_q99": self.distance_q99,
            "healthy_windows": self.healthy_windows,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthBaseline:
        baseline = cls(
            sensor_names=[str(n) for n in data["sensor_names"]],
            kept=[int(j) for j in data["kept"]],
            mean=[float(v) for v in data["mean"]],
            std=[float(v) for v in data["std"]],
            window=int(data["window"]),
            distance_median=float(data["distance_median"]),
            distance_q99=float(data["distance_q99"]),
            healthy_windows=int(data["healthy_windows"]),
        )
        n = len(baseline.kept)
        if (
            not n
            or len(baseline.mean) != n
            or len(baseline.std) != n
            or max(baseline.kept) >= len(baseline.sensor_names)
        ):
            raise ValueError("inconsistent health baseline description")
        return baseline


Floats = NDArray[np.float64]


def _window_z(x: Floats, mean: Floats, std: Floats) -> Floats:
    """[N, K] z-score of each sensor's mean over the window (NaN where a sensor has no value)."""
    present = ~np.isnan(x)
    counts = present.sum(axis=1)
    sums = np.where(present, x, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        window_mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return (window_mean - mean) / std


def _distances(x: NDArray[np.floating], mean: Floats, std: Floats) -> Floats:
    z = _window_z(np.asarray(x, dtype=np.float64), mean, std)
    return np.sqrt(np.nanmean(z**2, axis=1))
