"""Window building: shapes, alignment of labels with the last step, run boundaries, cap, censoring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.windows import Runs, build_windows, last_windows, row_targets, window_end_rows


@st.composite
def runs_and_window(draw: st.DrawFn) -> tuple[Runs, int, int, float, float]:
    n = draw(st.integers(1, 6))
    lengths = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    failed = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    at_end = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    window = draw(st.integers(1, 12))
    stride = draw(st.integers(1, 3))
    cap = float(draw(st.integers(1, 40)))
    horizon = float(draw(st.integers(0, 15)))
    return Runs.of(lengths, failed, [float(a) for a in at_end]), window, stride, cap, horizon


def _indexed_values(runs: Runs) -> np.ndarray:
    """Column 0 = row number, column 1 = run number: windows then show exactly where they came from."""
    return np.column_stack([np.arange(runs.total), runs.run_of_row()]).astype(np.float64)


@settings(max_examples=150, deadline=None)
@given(runs_and_window())
def test_windows_stay_in_one_run_and_align_with_their_last_step(
    case: tuple[Runs, int, int, float, float],
) -> None:
    runs, window, stride, cap, horizon = case
    w = build_windows(_indexed_values(runs), runs, window, cap, horizon, stride)
    expected = sum(len(range(length - 1, window - 2, -stride)) for length in runs.lengths if length >= window)
    assert w.x.shape == (expected, window, 2)
    assert w.x.dtype == np.float32
    rows = w.x[:, :, 0]
    # consecutive rows, ending at end_row, all from the same run (no window crosses a boundary)
    assert (np.diff(rows, axis=1) == 1).all()
    assert (rows[:, -1] == w.end_row).all()
    assert (w.x[:, :, 1] == w.run[:, None]).all()
    # the window's last step is a stride multiple back from its run's end
    ends = runs.starts + runs.lengths - 1
    assert ((ends[w.run] - w.end_row) % stride == 0).all()
    rul, fails = row_targets(runs, cap, horizon)
    np.testing.assert_array_equal(w.rul, rul[w.end_row])
    np.testing.assert_array_equal(w.fails_within, fails[w.end_row])


@settings(max_examples=150, deadline=None)
@given(runs_and_window())
def test_targets_are_capped_piecewise_linear_and_censored_runs_only_where_known(
    case: tuple[Runs, int, int, float, float],
) -> None:
    runs, _, _, cap, horizon = case
    rul, fails = row_targets(runs, cap, horizon)
    run = runs.run_of_row()
    steps_left = (runs.starts + runs.lengths - 1)[run] - np.arange(runs.total) + runs.rul_at_end[run]
    failed = runs.failed[run]
    known = ~np.isnan(rul)
    assert (rul[known] <= cap).all() and (rul[known] >= 0).all()
    # failed runs: exact, capped
    np.testing.assert_array_equal(rul[failed], np.minimum(steps_left[failed], cap).astype(np.float32))
    # censored runs: labelled only where the lower bound reaches the cap, then exactly the cap
    censored = ~failed
    assert (known[censored] == (steps_left[censored] >= cap)).all()
    assert (rul[censored & known] == cap).all()
    # failure within horizon: 1 only for failed runs near the end; censored ones never 1
    assert (fails[failed] == (steps_left[failed] <= horizon)).all()
    assert not (fails[censored] == 1).any()
    assert (np.isnan(fails[censored]) == (steps_left[censored] <= horizon)).all()


@settings(max_examples=100, deadline=None)
@given(runs_and_window())
def test_last_windows_end_at_each_runs_last_row_and_pad_short_runs(
    case: tuple[Runs, int, int, float, float],
) -> None:
    runs, window, _, _, _ = case
    if (runs.lengths == 0).any():
        with pytest.raises(ValueError, match="at least one row"):
            last_windows(_indexed_values(runs), runs, window)
        return
    x = last_windows(_indexed_values(runs), runs, window)
    assert x.shape == (len(runs.lengths), window, 2)
    assert (x[:, -1, 0] == runs.starts + runs.lengths - 1).all()
    assert (x[:, :, 1] == np.arange(len(runs.lengths))[:, None]).all()
    # short runs are padded at the front with their own first row
    assert (x[:, 0, 0] == np.maximum(runs.starts + runs.lengths - window, runs.starts)).all()


@settings(max_examples=100, deadline=None)
@given(runs_and_window(), st.integers(1, 12))
def test_windows_from_a_short_history_are_padded_as_scoring_pads_them(
    case: tuple[Runs, int, int, float, float], min_history: int
) -> None:
    runs, window, stride, cap, horizon = case
    min_history = min(min_history, window)
    values = _indexed_values(runs)
    w = build_windows(values, runs, window, cap, horizon, stride, min_history=min_history)
    full = build_windows(values, runs, window, cap, horizon, stride)
    history = w.end_row - runs.starts[w.run] + 1
    assert (history >= min_history).all()
    # the full windows are among them, unchanged, and every shorter history that qualifies is added
    np.testing.assert_array_equal(w.x[history >= window], full.x)
    expected = sum(len(range(n - 1, min_history - 2, -stride)) for n in runs.lengths if n >= min_history)
    assert len(w.end_row) == expected
    # rows before the run's start are its first row: row numbers clamped at the start, same run
    start = runs.starts[w.run]
    expected_rows = np.maximum(w.end_row[:, None] - np.arange(window - 1, -1, -1)[None, :], start[:, None])
    np.testing.assert_array_equal(w.x[:, :, 0], expected_rows)
    assert (w.x[:, :, 1] == w.run[:, None]).all()
    # which is what scoring builds from the run cut at the window's last row
    for i in np.flatnonzero(history < window):
        cut = Runs.of([int(history[i])])
        np.testing.assert_array_equal(
            w.x[i], last_windows(values[start[i] : w.end_row[i] + 1], cut, window)[0]
        )
    rul, _ = row_targets(runs, cap, horizon)
    np.testing.assert_array_equal(w.rul, rul[w.end_row])


def test_labelled_only_drops_censored_windows_near_the_end() -> None:
    runs = Runs.of([20, 20], failed=[True, False])
    w = build_windows(np.zeros((40, 1)), runs, window=5, cap=10, labelled_only=True)
    assert set(w.run.tolist()) == {0, 1}
    assert not np.isnan(w.rul).any()
    # censored run: only windows at least `cap` steps before the censoring point remain
    assert (w.end_row[w.run == 1] <= 39 - 10).all()
    assert len(w.rul[w.run == 0]) == 16


def test_bad_inputs_are_refused() -> None:
    runs = Runs.of([5, 5])
    with pytest.raises(ValueError, match="rows"):
        build_windows(np.zeros((9, 2)), runs, 3)
    with pytest.raises(ValueError, match="2-D"):
        build_windows(np.zeros(10), runs, 3)
    with pytest.raises(ValueError, match="at least 1"):
        window_end_rows(runs, 0)
    with pytest.raises(ValueError, match="min_history"):
        window_end_rows(runs, 3, min_history=4)
    with pytest.raises(ValueError, match="one entry per run"):
        Runs.of([5, 5], failed=[True])
    with pytest.raises(ValueError, match="non-negative"):
        Runs.of([5, -1])
