"""Fixed-length sensor windows and their labels, built from concatenated per-run time series.

A *run* is one machine's uninterrupted series between two events: it ends either in a failure (its
remaining useful life, RUL, is known at every step) or is *censored* (ended by preventive maintenance,
or still running: the machine had not failed). Runs are stored back to back in one `values` array of
shape [T, S] and described by their lengths, so every operation here is vectorised over rows and
windows (numpy stride tricks and fancy indexing, never a Python loop per window).

Labels of censored runs: at a row `k` steps before the censoring point the true RUL is only known
to be at least `k + rul_at_end`. With the piecewise-linear target capped at `cap`, that lower bound
still pins the label whenever it reaches the cap (the capped RUL is then exactly `cap`), so those
windows keep their label: they are the healthy examples maintenance-heavy plants mostly have. Closer
to the censoring point the label is unknown and is NaN: such windows take no part in the RUL loss.
The failure-within-horizon label is 0 when the run is known to survive longer than the horizon
(bound above the horizon), 1 when a failed run fails within it, and NaN otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

DEFAULT_CAP = 125.0


@dataclass(frozen=True)
class Runs:
    """Where each run lies in the concatenated rows, and how it ended."""

    lengths: NDArray[np.int64]  # [R] rows per run, in order
    failed: NDArray[np.bool_]  # [R] True: ended in failure; False: censored
    rul_at_end: NDArray[np.float64]  # [R] RUL (or its lower bound when censored) at the run's last row

    @classmethod
    def of(
        cls,
        lengths: NDArray[np.integer] | list[int],
        failed: NDArray[np.bool_] | list[bool] | None = None,
        rul_at_end: NDArray[np.floating] | list[float] | None = None,
    ) -> Runs:
        lengths_a = np.asarray(lengths, dtype=np.int64)
        if lengths_a.ndim != 1 or (lengths_a < 0).any():
            raise ValueError("run lengths must be a 1-D array of non-negative integers")
        n = len(lengths_a)
        failed_a = np.ones(n, dtype=bool) if failed is None else np.asarray(failed, dtype=bool)
        end_a = np.zeros(n) if rul_at_end is None else np.asarray(rul_at_end, dtype=np.float64)
        if failed_a.shape != (n,) or end_a.shape != (n,):
            raise ValueError(f"failed and rul_at_end need one entry per run ({n})")
        if (end_a < 0).any():
            raise ValueError("rul_at_end must be non-negative")
        return cls(lengths_a, failed_a, end_a)

    @property
    def starts(self) -> NDArray[np.int64]:
        return np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)

    @property
    def total(self) -> int:
        return int(self.lengths.sum())

    def run_of_row(self) -> NDArray[np.int64]:
        """[T] index of the run each row belongs to."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    def positions(self) -> NDArray[np.int64]:
        """[T] each row's place in its run (0 at the run's first row)."""
        return np.arange(self.total) - self.starts[self.run_of_row()]


@dataclass(frozen=True)
class Windows:
    """Windows [N, W, S] with their labels; row `end_row` of `values` is each window's last step."""

    x: NDArray[np.float32]
    rul: NDArray[np.float32]  # [N] capped RUL at the last step, NaN where unknown (censored)
    fails_within: NDArray[np.float32]  # [N] 1/0 failure within the horizon, NaN where unknown
    run: NDArray[np.int64]  # [N] index of the run
    end_row: NDArray[np.int64]  # [N] row index of the window's last step


def row_targets(
    runs: Runs, cap: float = DEFAULT_CAP, horizon: float = 30.0
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Per-row capped RUL and failure-within-horizon labels (NaN where unknown), shape [T] each."""
    run = runs.run_of_row()
    steps_to_end = runs.starts[run] + runs.lengths[run] - 1 - np.arange(runs.total)
    bound = steps_to_end + runs.rul_at_end[run]  # exact for failed runs, a lower bound if censored
    failed = runs.failed[run]
    rul = np.minimum(bound, cap)
    rul = np.where(failed | (bound >= cap), rul, np.nan)
    fails = np.where(bound <= horizon, 1.0, 0.0)
    fails = np.where(failed | (bound > horizon), fails, np.nan)
    return rul.astype(np.float32), fails.astype(np.float32)


def true_rul_within(runs: Runs, w: Windows, max_rul: float) -> NDArray[np.float32]:
    """Each window's true (uncapped) RUL, NaN where it is unknown (censored runs) or above `max_rul`."""
    true_rul = row_targets(runs, np.inf)[0][w.end_row]
    return np.where(true_rul <= max_rul, true_rul, np.nan).astype(np.float32)


def near_failure_only(w: Windows, runs: Runs, max_rul: float | None) -> Windows:
    """`w` with its RUL label unknown (NaN) where the true RUL may exceed `max_rul` (None: all kept)."""
    if max_rul is None:
        return w
    near = ~np.isnan(true_rul_within(runs, w, max_rul))
    return replace(w, rul=np.where(near, w.rul, np.nan).astype(np.float32))


def unpadded(w: Windows, runs: Runs, window: int) -> NDArray[np.bool_]:
    """Which of `w` lie wholly inside their run: full windows, not padded from a short history."""
    return np.asarray(w.end_row - runs.starts[w.run] >= window - 1)


def window_end_rows(
    runs: Runs, window: int, stride: int = 1, min_history: int | None = None
) -> NDArray[np.int64]:
    """Rows that end a window inside one run, every `stride` steps back from each run's end.

    A window needs `min_history` rows of its run up to its end (None: the whole window); fewer than
    `window` are padded with the run's first row (see `_gather`).
    """
    if window < 1 or stride < 1:
        raise ValueError("window and stride must be at least 1")
    needed = window if min_history is None else min_history
    if not 1 <= needed <= window:
        raise ValueError(f"min_history must lie between 1 and the window ({window}), not {needed}")
    run = runs.run_of_row()
    position = runs.positions()
    from_end = runs.lengths[run] - 1 - position
    keep = (position >= needed - 1) & (from_end % stride == 0)
    return np.flatnonzero(keep).astype(np.int64)


def _gather(
    values: NDArray[np.floating], runs: Runs, ends: NDArray[np.int64], window: int
) -> NDArray[np.float32]:
    """The windows ending at rows `ends`, [N, W, S]; rows before a run's start repeat its first row."""
    if not len(ends):
        return np.empty((0, window, values.shape[1]), dtype=np.float32)
    index = ends[:, None] - np.arange(window - 1, -1, -1)[None, :]
    index = np.maximum(index, runs.starts[runs.run_of_row()[ends]][:, None])
    return values.astype(np.float32, copy=False)[index]


def build_windows(
    values: NDArray[np.floating],
    runs: Runs,
    window: int,
    cap: float = DEFAULT_CAP,
    horizon: float = 30.0,
    stride: int = 1,
    labelled_only: bool = False,
    min_history: int | None = None,
) -> Windows:
    """Every window inside each run (none crosses a run boundary), labelled at its last step.

    By default only full windows; with `min_history`, also those ending after that many rows of
    their run, padded with its first row as `last_windows` pads short runs for scoring.
    With `labelled_only`, windows whose RUL label is unknown are left out.
    """
    values = _check_values(values, runs)
    ends = window_end_rows(runs, window, stride, min_history)
    rul, fails = row_targets(runs, cap, horizon)
    if labelled_only:
        ends = ends[~np.isnan(rul[ends])]
    return Windows(
        x=_gather(values, runs, ends, window),
        rul=rul[ends],
        fails_within=fails[ends],
        run=runs.run_of_row()[ends],
        end_row=ends,
    )


def last_windows(values: NDArray[np.floating], runs: Runs, window: int) -> NDArray[np.float32]:
    """The window ending at each run's last row, [R, W, S]; short runs are padded with their first row."""
    values = _check_values(values, runs)
    if (runs.lengths == 0).any():
        raise ValueError("every run needs at least one row to score")
    return _gather(values, runs, runs.starts + runs.lengths - 1, window)


def _check_values(values: NDArray[np.floating], runs: Runs) -> NDArray[np.floating]:
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-D [rows, sensors], got shape {values.shape}")
    if values.shape[0] != runs.total:
        raise ValueError(f"values has {values.shape[0]} rows but the runs cover {runs.total}")
    return values
