"""Inputs derived from each row's place in its run: the run's age and each sensor's drift since it began.

The sensors alone say neither how long a machine has run since it was new or repaired, nor where each of
its sensors stood then: machines start with different offsets (build tolerances, initial wear), and wear
shows as drift from there. With `RulConfig.run_age` the cycle number within the run (1 at its first row)
is an input named `RUN_AGE`; with `RulConfig.run_baseline` = n, so is each sensor's difference from the
mean of its run's first n rows (of the rows so far while there are fewer), named after the sensor with
`DRIFT_SUFFIX`. A constant sensor drifts by exactly 0, so the scaler drops it like any constant input.

Both need the run's whole history up to the scored row, not just the window, and only make sense where
each run starts at a known point (a machine new or just repaired). Whoever serves such a model adds them
to the raw series with `add_run_features` before cutting windows; the model's sensor names list them.
Gaps are filled within the run first (`fill_gaps`: forward, and leading ones from the first value).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from models.config import RulConfig, RulDataset
from models.features import fill_gaps
from models.windows import Runs

RUN_AGE = "run_age"
DRIFT_SUFFIX = "_drift"


def uses_run_features(config: RulConfig) -> bool:
    return config.run_age or config.run_baseline > 0


def run_feature_names(sensor_names: list[str], config: RulConfig) -> list[str]:
    """The sensor names followed by the derived inputs' names, in `add_run_features` column order."""
    drift = [name + DRIFT_SUFFIX for name in sensor_names] if config.run_baseline > 0 else []
    return [*sensor_names, *drift, *([RUN_AGE] if config.run_age else [])]


def add_run_features(values: NDArray[np.floating], runs: Runs, config: RulConfig) -> NDArray[np.float64]:
    """[T, S] rows (gaps filled within runs) followed by the drifts and the age `config` asks for."""
    filled = fill_gaps(values, runs)
    parts = [filled]
    position = runs.positions()
    if config.run_baseline > 0:
        parts.append(_drift(filled, runs, position, config.run_baseline))
    if config.run_age:
        parts.append((position + 1).astype(np.float64)[:, None])
    return np.hstack(parts)


def _drift(
    filled: NDArray[np.float64], runs: Runs, position: NDArray[np.int64], baseline: int
) -> NDArray[np.float64]:
    """Each row minus the mean of its run's first min(position + 1, baseline) rows.

    Computed per run from its own first rows, as deviations from the run's first row, so that a
    constant sensor gives exactly 0 and a gap in one run never reaches another.
    """
    if runs.total == 0:
        return np.empty((0, filled.shape[1]))
    run = runs.run_of_row()
    deviation = filled - filled[runs.starts[run]]
    steps = np.minimum(np.arange(baseline)[None, :], np.maximum(runs.lengths - 1, 0)[:, None])
    first_rows = np.minimum(runs.starts[:, None] + steps, runs.total - 1)  # [R, baseline]
    running = np.cumsum(deviation[first_rows], axis=1)  # [R, baseline, S]
    seen = np.minimum(position, baseline - 1)
    return deviation - running[run, seen] / (seen + 1)[:, None]


def raw_sensor_names(input_names: list[str], config: RulConfig) -> list[str]:
    """The measured sensors among a model's input names: those `run_feature_names` started from."""
    count = len(input_names) - int(config.run_age)
    return input_names[: count // 2 if config.run_baseline > 0 else count]


def with_run_features(dataset: RulDataset, config: RulConfig) -> RulDataset:
    """`dataset` with the derived inputs `config` asks for appended (unchanged when it asks for none)."""
    if not uses_run_features(config):
        return dataset
    return replace(
        dataset,
        values=add_run_features(dataset.values, dataset.runs, config),
        sensor_names=run_feature_names(dataset.sensor_names, config),
    )
