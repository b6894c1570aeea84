"""Run features: the run's age and each sensor's drift from its run's start, computed without a look ahead."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.config import RulConfig
from models.run_features import RUN_AGE, add_run_features, run_feature_names, with_run_features
from models.windows import Runs
from tests.models.synthetic import synthetic_dataset


@st.composite
def runs_values_baseline(draw: st.DrawFn) -> tuple[Runs, np.ndarray, int]:
    lengths = draw(st.lists(st.integers(1, 25), min_size=1, max_size=5))
    sensors = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 1000))
    values = np.random.default_rng(seed).normal(100, 10, (sum(lengths), sensors))
    return Runs.of(lengths), values, draw(st.integers(1, 12))


@settings(max_examples=100, deadline=None)
@given(runs_values_baseline())
def test_age_counts_cycles_and_drift_is_from_the_mean_of_the_runs_first_rows_seen_so_far(
    case: tuple[Runs, np.ndarray, int],
) -> None:
    runs, values, baseline = case
    sensors = values.shape[1]
    out = add_run_features(values, runs, age=True, baseline=baseline)
    assert out.shape == (runs.total, 2 * sensors + 1)
    np.testing.assert_array_equal(out[:, :sensors], values)
    for start, length in zip(runs.starts, runs.lengths, strict=True):
        for k in range(length):
            row = start + k
            seen = values[start : start + min(k + 1, baseline)]
            np.testing.assert_allclose(
                out[row, sensors : 2 * sensors], values[row] - seen.mean(axis=0), atol=1e-9
            )
            assert out[row, -1] == k + 1


def test_later_rows_do_not_change_earlier_features() -> None:
    runs = Runs.of([12])
    values = np.arange(24, dtype=np.float64).reshape(12, 2)
    changed = values.copy()
    changed[6:] += 50.0
    before = add_run_features(values, runs, age=True, baseline=8)
    after = add_run_features(changed, runs, age=True, baseline=8)
    np.testing.assert_array_equal(before[:6], after[:6])
    assert not np.allclose(before[6:, 2:4], after[6:, 2:4])


def test_gaps_are_filled_within_the_run_before_drift_is_taken() -> None:
    values = np.array([[1.0], [np.nan], [3.0], [np.nan], [10.0]])
    out = add_run_features(values, Runs.of([2, 3]), age=False, baseline=2)
    np.testing.assert_array_equal(out[:, 0], [1.0, 1.0, 3.0, 3.0, 10.0])
    np.testing.assert_array_equal(out[:, 1], [0.0, 0.0, 0.0, 0.0, 7.0])


def test_the_dataset_gains_named_columns_only_when_asked() -> None:
    data = synthetic_dataset(machines=3)
    assert with_run_features(data, RulConfig()) is data
    extended = with_run_features(data, RulConfig(run_age=True, run_baseline=5))
    assert extended.sensor_names == run_feature_names(data.sensor_names, True, 5)
    assert extended.sensor_names[-1] == RUN_AGE
    assert extended.sensor_names[len(data.sensor_names)] == data.sensor_names[0] + "_drift"
    assert extended.values.shape == (data.values.shape[0], 2 * len(data.sensor_names) + 1)
    age_only = with_run_features(data, RulConfig(run_age=True))
    assert age_only.sensor_names == [*data.sensor_names, RUN_AGE]
