"""Which sensors drove a RUL prediction: occlusion over the whole window.

For each kept sensor, its values over the window are replaced by the sensor's healthy reference (its
mean scaled value while the training machines were healthy, i.e. at the RUL cap) and the window is
scored again. The contribution is `rul(occluded) - rul(original)`: positive when the sensor's recent
behaviour pulls the predicted RUL down (it looks degraded), negative when it pushes it up. All
occluded copies of all windows go through the model in one batch, so any predict function works
(Keras or ONNX Runtime) and no gradients, hence no backend-specific code, are needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class SensorContribution:
    sensor: str
    score: float  # cycles of RUL the sensor takes away (positive) or adds (negative)


def occlusion_scores(
    predict_rul: Callable[[NDArray[np.float32]], NDArray[np.floating]],
    x: NDArray[np.float32],
    reference: Sequence[float],
) -> NDArray[np.float64]:
    """[N, K] contributions of each of the K sensors to each of the N scaled windows [N, W, K].

    `predict_rul` is called once, on the N windows followed by their N * K occluded copies."""
    x = np.asarray(x, dtype=np.float32)
    n, window, k = x.shape
    if len(reference) != k:
        raise ValueError(f"reference has {len(reference)} sensors, windows have {k}")
    # copies[i, j] is window i with sensor j occluded: [N, K, W, K] -> [N*K, W, K]
    copies = np.repeat(x[:, None], k, axis=1)
    eye = np.eye(k, dtype=bool)[None, :, None, :]  # [1, K(occluded), 1, K(feature)]
    copies = np.where(eye, np.asarray(reference, dtype=np.float32), copies)
    batch = np.concatenate([x, copies.reshape(n * k, window, k)])
    rul = np.asarray(predict_rul(batch), dtype=np.float64).reshape(-1)
    original, occluded = rul[:n], rul[n:].reshape(n, k)
    return occluded - original[:, None]


def top_sensors(
    scores: NDArray[np.float64], names: Sequence[str], k: int = 3
) -> list[list[SensorContribution]]:
    """The k sensors with the largest absolute contribution, per window, largest first."""
    if scores.ndim != 2 or scores.shape[1] != len(names):
        raise ValueError(f"scores {scores.shape} do not match {len(names)} sensor names")
    order = np.argsort(-np.abs(scores), axis=1, kind="stable")[:, :k]
    return [
        [SensorContribution(names[j], round(float(row[j]), 3)) for j in idx]
        for row, idx in zip(scores, order, strict=True)
    ]
