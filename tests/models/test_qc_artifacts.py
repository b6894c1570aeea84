"""Quality-control artifacts and serving: ONNX matches Keras, hashes are enforced, bad bytes are named."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.images import ImageDecodeError
from models.model_files import KERAS_FILE, ONNX_FILE, SIDECAR_FILE, ArtifactIntegrityError, sha256_file
from models.qc_artifacts import load_qc_keras_model, save_qc_artifacts
from models.qc_serving import QcClassifier, QcPrediction
from models.qc_training import TrainedQc, train_qc
from tests.models.test_qc import SIZE, synthetic_images, tiny_qc_config


@pytest.fixture(scope="module")
def trained() -> TrainedQc:
    images, labels = synthetic_images(12, seed=1)
    return train_qc(images, labels, tiny_qc_config(epochs=3, review_threshold=0.7))


@pytest.fixture(scope="module")
def saved(trained: TrainedQc, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(model directory, the sidecar's SHA-256) — read-only; copy it to tamper with it."""
    directory = tmp_path_factory.mktemp("qc-model")
    return directory, save_qc_artifacts(trained, directory, extra={"scope": "line-1"})


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_onnx_runtime_matches_keras(trained: TrainedQc, saved: tuple[Path, str]) -> None:
    classifier = QcClassifier.load(saved[0], sidecar_sha256=saved[1], threads=1)
    images, _ = synthetic_images(40, seed=3)  # 80 images: more than one ONNX batch
    result = classifier.classify(images)
    np.testing.assert_allclose(result.proba, trained.predict_proba(images), atol=1e-5)
    assert result.labels == [trained.classes[i] for i in result.proba.argmax(axis=1)]
    np.testing.assert_array_equal(result.needs_review, result.confidence < 0.7)
    assert classifier.classes == ["blobs", "stripes"] and classifier.image_size == SIZE
    assert classifier.info["metrics"] == trained.metrics and classifier.review_threshold == 0.7
    assert len(classifier.classify(images[0])) == 1  # one image may come without the batch axis
    assert len(classifier.classify(np.zeros((0, SIZE, SIZE), np.uint8))) == 0
    with pytest.raises(ValueError, match=r"images must be \[N, 16, 16\] grayscale, got \[2, 16, 8\]"):
        classifier.classify(images[:2, :, :8])


def test_bytes_are_decoded_and_bad_ones_named_in_place(saved: tuple[Path, str]) -> None:
    classifier = QcClassifier.load(saved[0])
    images, _ = synthetic_images(2, seed=4)
    expected = classifier.classify(images[:2])
    out = classifier.classify_bytes([png(images[0]), b"not an image", png(images[1]), b""])
    assert isinstance(out[0], QcPrediction) and isinstance(out[2], QcPrediction)
    assert isinstance(out[1], ImageDecodeError) and "not a recognised image format" in str(out[1])
    assert isinstance(out[3], ImageDecodeError) and "empty" in str(out[3])
    assert out[0].label == expected.labels[0] and out[2].label == expected.labels[1]
    assert out[0].confidence == pytest.approx(expected.confidence[0], abs=1e-6)
    assert sum(out[0].probabilities.values()) == pytest.approx(1, abs=1e-5)
    assert classifier.classify_bytes([b"junk"])[0].__class__ is ImageDecodeError


def test_sidecar_describes_the_model(trained: TrainedQc, saved: tuple[Path, str]) -> None:
    directory, sidecar_sha = saved
    assert sha256_file(directory / SIDECAR_FILE) == sidecar_sha
    meta = json.loads((directory / SIDECAR_FILE).read_text())
    assert meta["format"] == "plantwatch-qc/1" and meta["classes"] == trained.classes
    assert meta["image_size"] == SIZE and meta["scope"] == "line-1"
    assert meta["files"][ONNX_FILE] == sha256_file(directory / ONNX_FILE)
    model, loaded = load_qc_keras_model(directory, sidecar_sha)
    assert loaded.config == trained.config
    images, _ = synthetic_images(3, seed=6)
    np.testing.assert_allclose(
        np.asarray(model(images.astype(np.float32))), trained.predict_proba(images), atol=1e-6
    )


@pytest.mark.parametrize("victim", [ONNX_FILE, KERAS_FILE])
def test_a_changed_model_file_is_refused(saved: tuple[Path, str], tmp_path: Path, victim: str) -> None:
    copy = tmp_path / "model"
    shutil.copytree(saved[0], copy)
    with (copy / victim).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ArtifactIntegrityError, match=f"{victim} does not match the SHA-256"):
        QcClassifier.load(copy)
    with pytest.raises(ArtifactIntegrityError):
        load_qc_keras_model(copy)


def test_a_changed_sidecar_or_another_kind_is_refused(saved: tuple[Path, str], tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(saved[0], copy)
    meta = json.loads((copy / SIDECAR_FILE).read_text())
    meta["review_threshold"] = 0.0  # nothing would ever be reviewed
    (copy / SIDECAR_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded SHA-256"):
        QcClassifier.load(copy, sidecar_sha256=saved[1])
    (copy / SIDECAR_FILE).write_text(json.dumps({**meta, "format": "plantwatch-rul/1"}))
    with pytest.raises(ArtifactIntegrityError, match="unknown format 'plantwatch-rul/1'"):
        QcClassifier.load(copy)
    with pytest.raises(ArtifactIntegrityError, match="not a quality-control model directory"):
        QcClassifier.load(tmp_path)


def test_serving_never_imports_keras(saved: tuple[Path, str]) -> None:
    code = (
        "import sys; from pathlib import Path; from models.qc_serving import QcClassifier; "
        f"QcClassifier.load(Path({str(saved[0])!r})); "
        "print(sorted(m for m in ('keras', 'tensorflow', 'torch', 'jax') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
