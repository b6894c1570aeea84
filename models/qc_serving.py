"""Fast quality-control classification with ONNX Runtime from a verified model directory (no Keras).

`QcClassifier.load(directory)` checks every SHA-256 (see `models.qc_artifacts`) before it opens the
ONNX file. `classify` takes images already decoded at `image_size` (`models.images.decode_image`) and
returns a `QcResult` for the batch; `classify_bytes` takes encoded images (JPEG, PNG, ...) and returns,
per image and in order, a `QcPrediction` or the `ImageDecodeError` saying why that one could not be
read, so one bad upload never fails the others. A prediction whose confidence (its top probability) is
below `review_threshold` is flagged `needs_review`: a person should look at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from models.images import ImageDecodeError, decode_image
from models.model_files import ONNX_FILE
from models.qc import to_model_input
from models.qc_artifacts import QcMetadata, load_qc_metadata
from models.serving import onnx_session

__all__ = ["ImageDecodeError", "QcClassifier", "QcPrediction", "QcResult"]

BATCH = 64  # images per ONNX Runtime call: bounds memory, large enough to amortise the call


@dataclass(frozen=True)
class QcPrediction:
    """One image's verdict."""

    label: str
    confidence: float
    needs_review: bool
    probabilities: dict[str, float]  # class -> probability


@dataclass(frozen=True)
class QcResult:
    """A batch's verdicts: `labels[i]` with `confidence[i]`; `proba` is [N, classes] in `classes` order."""

    labels: list[str]
    confidence: NDArray[np.float64]
    proba: NDArray[np.float32]
    needs_review: NDArray[np.bool_]
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def item(self, i: int) -> QcPrediction:
        return QcPrediction(
            label=self.labels[i],
            confidence=float(self.confidence[i]),
            needs_review=bool(self.needs_review[i]),
            probabilities={c: float(p) for c, p in zip(self.classes, self.proba[i], strict=True)},
        )


class QcClassifier:
    """Classifies grayscale images [N, image_size, image_size] (uint8) into `classes`."""

    def __init__(self, meta: QcMetadata, session: ort.InferenceSession) -> None:
        self.meta = meta
        self._session = session
        self.review_threshold = meta.review_threshold  # may be changed by the caller

    @classmethod
    def load(
        cls, directory: Path, sidecar_sha256: str | None = None, threads: int | None = None
    ) -> QcClassifier:
        """Verify the hashes, then open the ONNX model; raises ArtifactIntegrityError on a mismatch."""
        meta = load_qc_metadata(directory, sidecar_sha256)
        return cls(meta, onnx_session(directory / ONNX_FILE, threads))

    @property
    def classes(self) -> list[str]:
        return self.meta.classes

    @property
    def image_size(self) -> int:
        return self.meta.image_size

    @property
    def info(self) -> dict[str, Any]:
        """What a caller may show: classes, image size, review threshold, held-out metrics and counts."""
        raw = self.meta.raw
        return {
            "classes": self.classes,
            "image_size": self.image_size,
            "review_threshold": self.review_threshold,
            **{key: raw.get(key) for key in ("metrics", "confusion", "counts", "train_seconds")},
        }

    def classify(self, images: NDArray[np.uint8]) -> QcResult:
        """Verdicts for images [N, size, size] (or one [size, size]); ValueError on another shape."""
        x = to_model_input(images)
        size = self.image_size
        if x.ndim != 3 or x.shape[1:] != (size, size):
            raise ValueError(f"images must be [N, {size}, {size}] grayscale, got {list(np.shape(images))}")
        proba = np.empty((len(x), len(self.classes)), dtype=np.float32)
        for start in range(0, len(x), BATCH):
            chunk = x[start : start + BATCH]
            (out,) = self._session.run([self.meta.onnx_output], {self.meta.onnx_input: chunk})
            proba[start : start + len(chunk)] = out
        top = proba.argmax(axis=1) if len(x) else np.empty(0, dtype=int)
        confidence = proba.max(axis=1).astype(np.float64) if len(x) else np.empty(0)
        return QcResult(
            labels=[self.classes[i] for i in top],
            confidence=confidence,
            proba=proba,
            needs_review=confidence < self.review_threshold,
            classes=self.classes,
        )

    def classify_bytes(self, payloads: list[bytes]) -> list[QcPrediction | ImageDecodeError]:
        """Per encoded image, in order: its verdict, or the ImageDecodeError saying why it was unreadable."""
        decoded: list[NDArray[np.uint8] | ImageDecodeError] = []
        for data in payloads:
            try:
                decoded.append(decode_image(data, self.image_size))
            except ImageDecodeError as exc:
                decoded.append(exc)
        good = [d for d in decoded if not isinstance(d, ImageDecodeError)]
        size = self.image_size
        result = self.classify(np.stack(good) if good else np.empty((0, size, size), np.uint8))
        verdicts = iter(range(len(result)))
        return [d if isinstance(d, ImageDecodeError) else result.item(next(verdicts)) for d in decoded]
