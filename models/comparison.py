"""Scoring two models on the same held-out machines, so that a candidate and a champion compare fairly.

The windows are raw (each model applies its own scaling), gaps filled within each run, labelled, and
taken only from the named machines: usually the candidate's evaluation machines.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
from numpy.typing import NDArray

from models.config import RulDataset
from models.features import fill_gaps
from models.windows import build_windows


def evaluation_windows(
    dataset: RulDataset, machines: Collection[str], window: int, cap: float, stride: int = 1
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(raw windows [N, window, sensors], true capped RUL [N]) of the labelled windows of `machines`."""
    values = fill_gaps(dataset.values, dataset.runs)
    windows = build_windows(values, dataset.runs, window, cap, stride=stride, labelled_only=True)
    keep = np.isin(np.asarray(dataset.machines, dtype=str)[windows.run], [str(m) for m in machines])
    return windows.x[keep], windows.rul[keep]


def rmse_on(predict_rul: Callable[[NDArray[np.float32]], NDArray[np.floating]], x: NDArray[np.float32],
            truth: NDArray[np.float32]) -> float:  # fmt: skip
    """RMSE of `predict_rul` on raw windows `x` against `truth` (NaN when there is no window)."""
    if len(x) == 0:
        return float("nan")
    predicted = np.asarray(predict_rul(x), dtype=np.float64).reshape(-1)
    return float(np.sqrt(np.mean((predicted - truth.astype(np.float64)) ** 2)))
