"""Saving and loading RUL model artifacts: Keras model, ONNX export and a JSON sidecar, hash-checked.

A model directory holds `model.keras`, `model.onnx` and `model.json`. The sidecar carries everything
needed to score besides the network (sensor names, scaler, dropped sensors, window, cap, horizon,
conformal offsets, healthy reference for explanations, metrics) and the SHA-256 of the two model files.
Loading verifies every hash first (and the sidecar's own, when the caller knows it, e.g. from the
model registry) and raises `ArtifactIntegrityError` on a mismatch. Nothing is ever unpickled: the
sidecar is JSON and the Keras file is loaded with `safe_mode=True`. The mechanism is shared with the
other model kinds (`models.model_files`); this module says what a RUL sidecar holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.config import RulConfig
from models.evaluation import Conformal
from models.features import FeatureScaler
from models.model_files import (
    KERAS_FILE,
    ONNX_FILE,
    SIDECAR_FILE,
    ArtifactIntegrityError,
    load_keras_file,
    read_sidecar,
    sha256_file,
    write_model_dir,
)
from models.names import INPUT_NAME

if TYPE_CHECKING:
    import keras

__all__ = [
    "KERAS_FILE",
    "ONNX_FILE",
    "SIDECAR_FILE",
    "ArtifactIntegrityError",
    "RulMetadata",
    "load_keras_model",
    "load_metadata",
    "save_rul_artifacts",
    "sha256_file",
]

FORMAT = "plantwatch-rul/1"


@dataclass(frozen=True)
class RulMetadata:
    """The parsed sidecar: what serving needs besides the network itself."""

    scaler: FeatureScaler
    conformal: Conformal
    config: RulConfig
    healthy: list[float]  # per kept sensor, scaled: the occlusion baseline
    onnx_outputs: dict[str, str]  # our output name -> ONNX output name
    onnx_input: str
    raw: dict[str, Any]

    @property
    def window(self) -> int:
        return self.config.window

    @property
    def sensor_names(self) -> list[str]:
        return self.scaler.sensor_names


def save_rul_artifacts(trained: Any, directory: Path, extra: dict[str, Any] | None = None) -> str:
    """Write the three files of a `TrainedRul` into `directory`; returns the sidecar's SHA-256."""
    from models.rul import as_float32, is_float32

    config: RulConfig = trained.config
    n_features = len(trained.scaler.kept)
    export = trained.model
    if not is_float32(export):
        export = as_float32(export, config.architecture, config.window, n_features, config.cap)
    fields = {
        "window": config.window,
        "cap": config.cap,
        "horizon": config.horizon,
        "sensor_names": trained.scaler.sensor_names,
        "dropped_sensors": trained.scaler.dropped,
        "scaler": trained.scaler.to_dict(),
        "conformal": trained.conformal.to_dict(),
        "healthy": list(trained.healthy),
        "metrics": {k: (None if v != v else v) for k, v in trained.metrics.items()},  # NaN -> null
        "config": config.to_dict(),
        "device": trained.device,
        "train_seconds": trained.train_seconds,
        "epochs_run": trained.epochs_run,
        "split": {
            "train": trained.split.train,
            "validation": trained.split.validation,
            "calibration": trained.split.calibration,
        },
    }
    probe = np.random.default_rng(0).random((4, config.window, n_features), dtype=np.float32)
    return write_model_dir(directory, trained.model, export, INPUT_NAME, probe, FORMAT, fields, extra)


def load_metadata(directory: Path, sidecar_sha256: str | None = None) -> RulMetadata:
    """Read the sidecar and verify the hashes of every file it lists (and its own, when given)."""
    raw = read_sidecar(directory, FORMAT, "RUL", sidecar_sha256)
    return RulMetadata(
        scaler=FeatureScaler.from_dict(raw["scaler"]),
        conformal=Conformal.from_dict(raw["conformal"]),
        config=RulConfig.from_dict(raw["config"]),
        healthy=[float(v) for v in raw["healthy"]],
        onnx_outputs={str(k): str(v) for k, v in raw["onnx"]["outputs"].items()},
        onnx_input=str(raw["onnx"]["input"]),
        raw=raw,
    )


def load_keras_model(directory: Path, sidecar_sha256: str | None = None) -> tuple[keras.Model, RulMetadata]:
    """The Keras model (for retraining or explaining with gradients) after verifying every hash."""
    meta = load_metadata(directory, sidecar_sha256)
    return load_keras_file(directory), meta
