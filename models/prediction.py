"""Checking raw sensor windows before scoring, and the shape of a RUL prediction.

Shared by the Keras path (training, evaluation) and the ONNX Runtime path (serving) so that both see
exactly the same input checks, gap filling and scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.features import FeatureScaler


class InvalidWindowError(ValueError):
    """A window of the wrong shape or length, or with a sensor that has no usable value."""


@dataclass(frozen=True)
class RulPrediction:
    """Per window: RUL in cycles, its interval and the probability of failing within the horizon."""

    rul: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    failure_probability: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.rul)


def prepare_windows(raw: NDArray[np.floating], scaler: FeatureScaler, window: int) -> NDArray[np.float32]:
    """Raw windows [N, W, S] (S = every sensor of the scaler, in its order) → scaled model input.

    Gaps (NaN) are filled forward within each window, leading ones from the first value; a sensor the
    model uses with no finite value in a window, a wrong shape or an infinite value raise
    `InvalidWindowError` with the reason.
    """
    try:
        # A float array is only indexed below, so its unused sensors are never copied or converted.
        x = (
            raw
            if isinstance(raw, np.ndarray) and raw.dtype.kind == "f"
            else np.asarray(raw, dtype=np.float64)
        )
    except (TypeError, ValueError) as exc:
        raise InvalidWindowError(f"windows must be numeric: {exc}") from None
    n_sensors = len(scaler.sensor_names)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise InvalidWindowError(f"expected windows of shape [n, {window}, {n_sensors}], got {x.shape}")
    if x.shape[1] != window:
        raise InvalidWindowError(f"each window needs {window} time steps, got {x.shape[1]}")
    if x.shape[2] != n_sensors:
        raise InvalidWindowError(
            f"each time step needs {n_sensors} sensor values ({', '.join(scaler.sensor_names)}), "
            f"got {x.shape[2]}"
        )
    x = x[:, :, scaler.kept]
    if np.isinf(x).any():
        raise InvalidWindowError("windows contain infinite values")
    missing = np.isnan(x)
    if missing.any():
        empty = missing.all(axis=1)  # [N, K]
        if empty.any():
            n, k = np.argwhere(empty)[0]
            raise InvalidWindowError(
                f"window {n}: sensor {scaler.kept_names[k]!r} has no value in the whole window"
            )
        x = _fill_within_windows(x, missing)
    return scaler.transform_kept(x)


def _fill_within_windows(x: NDArray[np.floating], missing: NDArray[np.bool_]) -> NDArray[np.floating]:
    steps = np.arange(x.shape[1])[None, :, None]
    last = np.maximum.accumulate(np.where(missing, -1, steps), axis=1)
    first = np.argmax(~missing, axis=1)[:, None, :]  # first valid step of each (window, sensor)
    source = np.where(last >= 0, last, first)
    return np.take_along_axis(x, source, axis=1)
