"""Features: gap filling within runs, dead/constant sensor dropping, scaling and its JSON form."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.features import FeatureScaler, MissingSensorError, fill_gaps, near_constant, require_complete
from models.prediction import InvalidWindowError, prepare_windows
from models.windows import Runs


def test_fill_gaps_forward_fills_within_a_run_and_never_across_runs() -> None:
    nan = np.nan
    values = np.array([[1.0, nan], [nan, 2.0], [3.0, nan], [nan, nan], [nan, 5.0]])
    filled = fill_gaps(values, Runs.of([3, 2]))
    expected = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 2.0], [nan, 5.0], [nan, 5.0]])
    np.testing.assert_array_equal(filled, expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 8), min_size=1, max_size=5).flatmap(
    lambda lengths: st.tuples(
        st.just(lengths),
        arrays(np.float64, (sum(lengths), 3), elements=st.one_of(st.just(np.nan), st.floats(-5, 5))),
    )
))  # fmt: skip
def test_fill_gaps_takes_each_value_from_the_same_run(case: tuple[list[int], np.ndarray]) -> None:
    lengths, values = case
    runs = Runs.of(lengths)
    filled = fill_gaps(values, runs)
    run = runs.run_of_row()
    for r in range(len(lengths)):
        rows = run == r
        for j in range(3):
            present = values[rows, j][~np.isnan(values[rows, j])]
            column = filled[rows, j]
            if present.size == 0:
                assert np.isnan(column).all()
            else:
                assert set(column.tolist()) <= set(present.tolist())
                # where a value was present it is kept
                kept = ~np.isnan(values[rows, j])
                np.testing.assert_array_equal(column[kept], values[rows, j][kept])


def test_a_sensor_missing_from_a_whole_run_is_a_clear_error() -> None:
    values = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, np.nan], [4.0, np.nan]])
    runs = Runs.of([2, 2])
    with pytest.raises(MissingSensorError, match=r"'pressure' has no value in run 1"):
        require_complete(fill_gaps(values, runs), runs, ["temp", "pressure"])
    require_complete(fill_gaps(values[:2], Runs.of([2])), Runs.of([2]), ["temp", "pressure"])


def test_constant_dead_and_near_constant_sensors_are_dropped() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    near = np.where(rng.random(n) < 0.02, 21.60, 21.61)  # like FD001's s6: two values, one rare
    values = np.column_stack(
        [rng.normal(size=n), np.full(n, 3.0), np.full(n, np.nan), near, rng.integers(0, 2, n)]
    )
    scaler = FeatureScaler.fit(values, ["a", "const", "dead", "near", "binary"])
    assert scaler.dropped == ["const", "dead", "near"]
    assert scaler.kept_names == ["a", "binary"]
    assert near_constant(np.full(5, np.nan))
    assert not near_constant(np.array([0.0, 1.0, 0.0, 1.0]))


def test_scaler_uses_training_minmax_and_round_trips_through_json() -> None:
    train = np.array([[0.0, 10.0, 5.0], [10.0, 20.0, 5.0], [5.0, 15.0, 5.0]])
    scaler = FeatureScaler.fit(train, ["x", "y", "flat"])
    np.testing.assert_allclose(scaler.transform(train)[:, 0], [0.0, 1.0, 0.5])
    # other data is scaled by the training range, not its own
    np.testing.assert_allclose(scaler.transform(np.array([[20.0, 10.0, 0.0]])), [[2.0, 0.0]])
    again = FeatureScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert again == scaler
    assert scaler.to_dict()["dropped"] == ["flat"]
    with pytest.raises(ValueError, match="nothing to learn"):
        FeatureScaler.fit(np.ones((4, 2)), ["a", "b"])


def _scaler() -> FeatureScaler:
    return FeatureScaler(["a", "b", "c"], kept=[0, 2], minimum=[0.0, 0.0], maximum=[10.0, 10.0])


def test_prepare_windows_fills_gaps_and_scales() -> None:
    raw = np.array([[[np.nan, 9.0, 2.0], [4.0, np.nan, np.nan], [6.0, np.nan, 8.0]]])
    x = prepare_windows(raw, _scaler(), window=3)
    np.testing.assert_allclose(x[0], [[0.4, 0.2], [0.4, 0.2], [0.6, 0.8]], rtol=1e-6)
    # a dropped sensor may be missing entirely
    raw[0, :, 1] = np.nan
    assert prepare_windows(raw, _scaler(), window=3).shape == (1, 3, 2)


def test_float32_windows_scale_like_float64_ones_and_are_left_as_they_were() -> None:
    raw = np.array([[[np.nan, 9.0, 2.0], [4.0, np.nan, np.nan], [6.0, np.nan, 8.0]]], dtype=np.float32)
    before = raw.copy()
    x = prepare_windows(raw, _scaler(), window=3)
    np.testing.assert_array_equal(x, prepare_windows(raw.astype(np.float64), _scaler(), window=3))
    np.testing.assert_array_equal(raw, before)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (np.zeros((2, 4, 3)), "needs 3 time steps, got 4"),
        (np.zeros((2, 3, 2)), r"needs 3 sensor values \(a, b, c\), got 2"),
        (np.zeros((3,)), "expected windows of shape"),
        (np.array([[[1.0, 1.0, np.nan]] * 3]), "sensor 'c' has no value in the whole window"),
        (np.array([[[np.inf, 1.0, 1.0]] * 3]), "infinite"),
        ([["a", "b", "c"]] * 3, "must be numeric"),
    ],
)
def test_bad_windows_get_clear_errors(raw: object, message: str) -> None:
    with pytest.raises(InvalidWindowError, match=message):
        prepare_windows(raw, _scaler(), window=3)  # type: ignore[arg-type]
