"""Saving and loading quality-control model artifacts, hash-checked (the mechanism of `models.model_files`).

A model directory holds `model.keras`, `model.onnx` and `model.json`. The sidecar says what serving
needs besides the network: the classes in output order, the image size, the review threshold, and how
the model did (metrics on its held-out images, their confusion matrix, the configuration, device and
training time), plus the SHA-256 of both model files, all verified before anything is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.model_files import load_keras_file, read_sidecar, write_model_dir
from models.qc import INPUT_NAME, OUTPUT_NAME, QcConfig

if TYPE_CHECKING:
    import keras

    from models.qc_training import TrainedQc

FORMAT = "plantwatch-qc/1"
KIND = "quality-control"


@dataclass(frozen=True)
class QcMetadata:
    """The parsed sidecar."""

    classes: list[str]
    image_size: int
    review_threshold: float
    config: QcConfig
    onnx_input: str
    onnx_output: str
    raw: dict[str, Any]


def save_qc_artifacts(trained: TrainedQc, directory: Path, extra: dict[str, Any] | None = None) -> str:
    """Write the three files of a `TrainedQc` into `directory`; returns the sidecar's SHA-256."""
    config = trained.config
    size = config.image_size
    fields = {
        "classes": list(trained.classes),
        "image_size": size,
        "review_threshold": config.review_threshold,
        "input": {"shape": [size, size], "pixels": "grayscale 0-255 as float32 (models.images)"},
        "metrics": trained.metrics,
        "confusion": trained.confusion,
        "counts": trained.counts,
        "config": config.to_dict(),
        "device": trained.device,
        "train_seconds": trained.train_seconds,
        "epochs_run": trained.epochs_run,
    }
    probe = np.random.default_rng(0).integers(0, 256, (4, size, size)).astype(np.float32)
    return write_model_dir(directory, trained.model, trained.model, INPUT_NAME, probe, FORMAT, fields, extra)


def load_qc_metadata(directory: Path, sidecar_sha256: str | None = None) -> QcMetadata:
    """Read the sidecar after verifying every hash; raises ArtifactIntegrityError on a mismatch."""
    raw = read_sidecar(directory, FORMAT, KIND, sidecar_sha256)
    return QcMetadata(
        classes=[str(c) for c in raw["classes"]],
        image_size=int(raw["image_size"]),
        review_threshold=float(raw["review_threshold"]),
        config=QcConfig.from_dict(raw["config"]),
        onnx_input=str(raw["onnx"]["input"]),
        onnx_output=str(raw["onnx"]["outputs"][OUTPUT_NAME]),
        raw=raw,
    )


def load_qc_keras_model(directory: Path, sidecar_sha256: str | None = None) -> tuple[keras.Model, QcMetadata]:
    """The Keras model (to fine-tune or inspect) after verifying every hash."""
    meta = load_qc_metadata(directory, sidecar_sha256)
    return load_keras_file(directory), meta
