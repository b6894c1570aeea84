"""Run features: the run's age and each sensor's drift from its run's start, computed without a look ahead."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.config import RulConfig
from models.features import FeatureScaler
from models.run_features import (
    RUN_AGE,
    add_run_features,
    raw_sensor_names,
    run_feature_names,
    with_run_features,
)
from models.windows import Runs
from tests.models.synthetic import synthetic_dataset

BOTH = RulConfig(run_age=True, run_baseline=8)


@st.composite
def runs_values_baseline(draw: st.DrawFn) -> tuple[Runs, np.ndarray, int]:
    lengths = draw(st.lists(st.integers(0, 25), min_size=1, max_size=5))
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
    out = add_run_features(values, runs, RulConfig(run_age=True, run_baseline=baseline))
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


def test_a_constant_sensor_drifts_by_exactly_nothing_and_is_dropped() -> None:
    rng = np.random.default_rng(0)
    runs = Runs.of(rng.integers(80, 300, size=100))
    values = np.column_stack([np.full(runs.total, 518.67), rng.normal(1589.7, 5.0, runs.total)])
    out = add_run_features(values, runs, RulConfig(run_baseline=10))
    assert (out[:, 2] == 0.0).all()
    scaler = FeatureScaler.fit(out, run_feature_names(["s1", "s3"], RulConfig(run_baseline=10)))
    assert scaler.kept_names == ["s3", "s3_drift"]


def test_later_rows_and_other_runs_do_not_change_a_rows_features() -> None:
    runs = Runs.of([12, 5])
    values = np.arange(34, dtype=np.float64).reshape(17, 2)
    values[3, 0] = np.nan  # a gap, filled from the row before
    changed = values.copy()
    changed[6:12] += 50.0  # later rows of the first run
    changed[12:, 1] = np.nan  # a sensor without any value in the second run
    before, after = add_run_features(values, runs, BOTH), add_run_features(changed, runs, BOTH)
    np.testing.assert_array_equal(before[:6], after[:6])
    assert not np.allclose(before[6:12, 2:4], after[6:12, 2:4])
    np.testing.assert_array_equal(before[12:, [0, 2, 4]], after[12:, [0, 2, 4]])


def test_gaps_are_filled_within_the_run_before_drift_is_taken() -> None:
    values = np.array([[1.0], [np.nan], [3.0], [np.nan], [10.0]])
    out = add_run_features(values, Runs.of([2, 3]), RulConfig(run_baseline=2))
    np.testing.assert_array_equal(out[:, 0], [1.0, 1.0, 3.0, 3.0, 10.0])
    np.testing.assert_array_equal(out[:, 1], [0.0, 0.0, 0.0, 0.0, 7.0])


def test_the_dataset_gains_named_columns_only_when_asked() -> None:
    data = synthetic_dataset(machines=3)
    assert with_run_features(data, RulConfig()) is data
    extended = with_run_features(data, BOTH)
    assert extended.sensor_names == run_feature_names(data.sensor_names, BOTH)
    assert extended.sensor_names[-1] == RUN_AGE
    assert extended.sensor_names[len(data.sensor_names)] == data.sensor_names[0] + "_drift"
    assert extended.values.shape == (data.values.shape[0], 2 * len(data.sensor_names) + 1)
    for config in (RulConfig(), RulConfig(run_age=True), RulConfig(run_baseline=3), BOTH):
        names = run_feature_names(data.sensor_names, config)
        assert raw_sensor_names(names, config) == data.sensor_names


@pytest.mark.parametrize("baseline", [-1, 2.5, True])
def test_a_run_baseline_that_is_not_a_count_of_rows_is_refused(baseline: object) -> None:
    with pytest.raises(ValueError, match="run_baseline must be 0"):
        RulConfig(run_baseline=baseline)  # type: ignore[arg-type]
