"""Inputs derived from each row's place in its run: the run's age and each sensor's drift since it began.

The sensors alone say neither how long a machine has run since it was new or repaired, nor where each of
its sensors stood then: machines start with different offsets (build tolerances, initial wear), and wear
shows as drift from there. With `RulConfig.run_age` the cycle number within the run (1 at its first row)
is an input named `RUN_AGE`; with `RulConfig.run_baseline` = n, so is each sensor's difference from the
mean of its run's first n rows (of the rows so far while there are fewer, so no row sees a later one),
named after the sensor with `DRIFT_SUFFIX`. Constant ones are dropped by the scaler like any sensor.

Both need the run's whole history up to the scored row, not just the window, and only make sense where
each run starts at a known point (a machine new or just repaired). Whoever serves such a model adds them
to the raw series with `add_run_features` before cutting windows; the model's sensor names list them.
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


def run_feature_names(sensor_names: list[str], age: bool, baseline: int) -> list[str]:
    """The sensor names followed by the derived inputs' names, in `add_run_features` column order."""
    drift = [name + DRIFT_SUFFIX for name in sensor_names] if baseline > 0 else []
    return [*sensor_names, *drift, *([RUN_AGE] if age else [])]


def add_run_features(
    values: NDArray[np.floating], runs: Runs, age: bool, baseline: int
) -> NDArray[np.float64]:
    """[T, S] rows (gaps filled within runs) followed by each sensor's drift, then the run's age."""
    filled = fill_gaps(values, runs)
    parts = [filled]
    position = runs.positions()
    if baseline > 0:
        start = runs.starts[runs.run_of_row()]
        last = start + np.minimum(position, baseline - 1)  # last row of each row's baseline
        sums = np.vstack([np.zeros((1, filled.shape[1])), np.cumsum(filled, axis=0)])
        base = (sums[last + 1] - sums[start]) / (last - start + 1)[:, None]
        parts.append(filled - base)
    if age:
        parts.append((position + 1).astype(np.float64)[:, None])
    return np.hstack(parts)


def with_run_features(dataset: RulDataset, config: RulConfig) -> RulDataset:
    """`dataset` with the derived inputs `config` asks for appended (unchanged when it asks for none)."""
    if not config.run_age and config.run_baseline == 0:
        return dataset
    return replace(
        dataset,
        values=add_run_features(dataset.values, dataset.runs, config.run_age, config.run_baseline),
        sensor_names=run_feature_names(dataset.sensor_names, config.run_age, config.run_baseline),
    )
