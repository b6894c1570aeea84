"""Fast RUL scoring with ONNX Runtime from a verified model directory.

`RulPredictor.load(directory)` checks every SHA-256 (see `models.artifacts`) before it opens the ONNX
file, then scores batches of raw sensor windows: RUL, 90% (or configured) interval and failure
probability, plus the sensors that drove each prediction on request. The Keras file is not needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from models.artifacts import ONNX_FILE, RulMetadata, load_metadata
from models.explain import SensorContribution, occlusion_scores, top_sensors
from models.names import FAILURE_OUTPUT, RUL_OUTPUT
from models.prediction import InvalidWindowError, RulPrediction, prepare_windows

__all__ = ["InvalidWindowError", "RulPredictor"]


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Intra-op threads = `threads` (default: the cores, at most 4: small models gain nothing beyond)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads would spin for work after every run: for one window scored per request
    # (the API) that tripled the CPU a prediction costs, taken from the requests beside it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def onnx_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """An ONNX Runtime session on the CPU for a model file whose hash was already checked."""
    return ort.InferenceSession(
        str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
    )


class RulPredictor:
    """Scores raw windows [N, window, sensors] (sensors in `sensor_names` order, NaN for a gap)."""

    def __init__(self, meta: RulMetadata, session: ort.InferenceSession) -> None:
        self.meta = meta
        self._session = session
        self._input = meta.onnx_input
        self._outputs = [meta.onnx_outputs[RUL_OUTPUT], meta.onnx_outputs[FAILURE_OUTPUT]]

    @classmethod
    def load(
        cls, directory: Path, sidecar_sha256: str | None = None, threads: int | None = None
    ) -> RulPredictor:
        """Verify the hashes, then open the ONNX model; raises ArtifactIntegrityError on a mismatch."""
        meta = load_metadata(directory, sidecar_sha256)
        return cls(meta, onnx_session(directory / ONNX_FILE, threads))

    @property
    def window(self) -> int:
        return self.meta.window

    @property
    def sensor_names(self) -> list[str]:
        return self.meta.sensor_names

    @property
    def info(self) -> dict[str, Any]:
        """What a caller may show: window, sensors, cap, horizon, interval coverage and metrics."""
        raw = self.meta.raw
        return {
            key: raw[key]
            for key in ("window", "sensor_names", "dropped_sensors", "cap", "horizon", "metrics")
        }

    def predict(self, raw_windows: NDArray[np.floating]) -> RulPrediction:
        """Score raw windows; raises InvalidWindowError on a wrong shape, length or unusable sensor."""
        return self.predict_scaled(prepare_windows(raw_windows, self.meta.scaler, self.window))

    def predict_scaled(self, x: NDArray[np.float32]) -> RulPrediction:
        if len(x) == 0:
            empty = np.empty(0)
            return RulPrediction(empty, empty, empty, empty)
        rul, prob = self._session.run(self._outputs, {self._input: np.ascontiguousarray(x, dtype=np.float32)})
        rul = np.maximum(np.asarray(rul, dtype=np.float64).reshape(-1), 0.0)
        low, high = self.meta.conformal.interval(rul)
        return RulPrediction(rul, low, high, np.asarray(prob, dtype=np.float64).reshape(-1))

    def predict_explained(
        self, raw_windows: NDArray[np.floating], top_k: int = 3
    ) -> tuple[RulPrediction, list[list[SensorContribution]]]:
        """`predict`, and the `top_k` sensors that moved each window's RUL most (occlusion, see
        `models.explain`), from one run of the model: the windows lead the occlusion batch."""
        x = prepare_windows(raw_windows, self.meta.scaler, self.window)
        runs: list[RulPrediction] = []

        def rul_of(batch: NDArray[np.float32]) -> NDArray[np.float64]:
            runs.append(self.predict_scaled(batch))
            return runs[-1].rul

        scores = occlusion_scores(rul_of, x, self.meta.healthy)
        (whole,) = runs
        n = len(x)
        scored = RulPrediction(whole.rul[:n], whole.low[:n], whole.high[:n], whole.failure_probability[:n])
        return scored, top_sensors(scores, self.meta.scaler.kept_names, top_k)
