"""Quality-control training: classes come from the labels, splits hold out, too little data is refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from numpy.typing import NDArray

from models.config import InsufficientDataError
from models.fitting import TrainingProgress
from models.qc import QcConfig, classification_metrics, confusion_matrix
from models.qc_training import TrainedQc, stratified_holdout, train_qc

SIZE = 16


def synthetic_images(per_class: int = 16, seed: int = 0) -> tuple[NDArray[np.uint8], list[str]]:
    """Noisy stripes and noisy blobs, SIZE x SIZE, interleaved: two classes any network tells apart."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    images, labels = [], []
    for _ in range(per_class):
        stripes = 128 + 80 * np.sin(rng.uniform(0.8, 1.6) * yy + rng.uniform(0, 2 * np.pi))
        cy, cx = rng.uniform(4, SIZE - 4, 2)
        blob = 40 + 180 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 10)
        for name, image in (("stripes", stripes), ("blobs", blob)):
            images.append(image + rng.normal(0, 8, (SIZE, SIZE)))
            labels.append(name)
    return np.clip(images, 0, 255).astype(np.uint8), labels


def tiny_qc_config(**overrides: object) -> QcConfig:
    """Two small blocks, a few epochs, flips only: seconds, not minutes."""
    base = QcConfig(
        image_size=SIZE, filters=(4, 8), epochs=6, batch_size=8, learning_rate=3e-2, dropout=0.0,
        patience=6, min_images_per_class=4, validation_fraction=0.25, augment_translation=0.0,
        augment_contrast=0.0,
    )  # fmt: skip
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained_qc() -> TrainedQc:
    images, labels = synthetic_images()
    return train_qc(images, labels, tiny_qc_config())


def test_training_learns_the_labels_and_reports_held_out_metrics(trained_qc: TrainedQc) -> None:
    assert trained_qc.classes == ["blobs", "stripes"]  # sorted labels, nothing hard-coded
    metrics = trained_qc.metrics
    assert metrics["n_evaluation"] == 8
    assert trained_qc.counts == {"fit": 18, "early_stopping": 6, "evaluation": 8}
    assert metrics["accuracy"] >= 0.75 and set(metrics["per_class_recall"]) == {"blobs", "stripes"}
    assert 0 <= metrics["review_fraction"] <= 1 and 0 <= metrics["macro_f1"] <= 1
    assert sum(map(sum, trained_qc.confusion)) == 8
    assert 1 <= trained_qc.epochs_run <= 6 and ("cpu" in trained_qc.device or "gpu" in trained_qc.device)
    images, labels = synthetic_images(4, seed=5)
    proba = trained_qc.predict_proba(images)
    assert proba.shape == (8, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    predicted = [trained_qc.classes[i] for i in proba.argmax(axis=1)]
    assert np.mean(np.asarray(predicted) == np.asarray(labels)) >= 0.75


def test_training_is_reproducible_and_reports_progress() -> None:
    images, labels = synthetic_images(8)
    seen: list[TrainingProgress] = []
    config = tiny_qc_config(epochs=2, min_images_per_class=4)
    first = train_qc(images, labels, config, progress=seen.append)
    second = train_qc(images, labels, config)
    assert [p.epoch for p in seen] == [1, 2] and seen[-1].epochs == 2
    np.testing.assert_allclose(first.predict_proba(images), second.predict_proba(images), atol=1e-5)


def test_caller_chosen_evaluation_images_are_the_ones_scored() -> None:
    images, labels = synthetic_images(8)
    evaluation = np.zeros(len(labels), dtype=bool)
    evaluation[-4:] = True
    stops: list[int] = []
    trained = train_qc(
        images, labels, tiny_qc_config(epochs=5), evaluation=evaluation,
        progress=lambda p: stops.append(p.epoch), should_stop=lambda: True,
    )  # fmt: skip
    assert trained.metrics["n_evaluation"] == 4 and trained.epochs_run == 1 and stops == [1]


def test_too_little_data_is_refused_with_the_reason() -> None:
    images, labels = synthetic_images(8)
    config = tiny_qc_config(min_images_per_class=10)
    reason = "at least 10 labelled images: 'blobs' has 8, 'stripes' has 8"
    with pytest.raises(InsufficientDataError, match=reason):
        train_qc(images, labels, config)
    with pytest.raises(InsufficientDataError, match="at least 2 classes"):
        train_qc(images, ["stripes"] * len(labels), tiny_qc_config())
    evaluation = np.asarray([label == "blobs" for label in labels])
    with pytest.raises(InsufficientDataError, match="'blobs' keeps 0"):
        train_qc(images, labels, tiny_qc_config(), evaluation=evaluation)
    with pytest.raises(InsufficientDataError, match="no image is marked"):
        train_qc(images, labels, tiny_qc_config(), evaluation=np.zeros(len(labels), bool))
    with pytest.raises(ValueError, match=r"images must be \[N, 16, 16\]"):
        train_qc(images[:, :8], labels, tiny_qc_config())


def test_stratified_holdout_keeps_every_class_on_both_sides() -> None:
    y = np.asarray([0] * 10 + [1] * 3 + [2] * 2)
    held = stratified_holdout(y, 0.2, np.random.default_rng(0))
    assert [int(held[y == k].sum()) for k in range(3)] == [2, 1, 1]
    assert all((~held[y == k]).any() for k in range(3))


def test_classification_metrics() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "b", "x"]  # "x": a label the classes do not know counts as wrong
    metrics = classification_metrics(truth, predicted, ["a", "b", "c", "d"])
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_class_recall"] == {"a": pytest.approx(2 / 3), "b": 1.0, "c": 0.0, "d": None}
    assert metrics["macro_f1"] == pytest.approx(np.mean([0.8, 0.8, 0.0]))  # "d" never seen: left out
    assert confusion_matrix(truth, predicted, ["a", "b", "c"]) == [[2, 1, 0], [0, 2, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        classification_metrics(["a", "b"], ["a"], ["a", "b"])


def test_config_round_trips_and_refuses_unknown_fields() -> None:
    config = QcConfig(filters=(8, 16, 32), review_threshold=0.7)
    assert QcConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown QcConfig fields: colour"):
        QcConfig.from_dict({"colour": True})
    with pytest.raises(ValueError, match="too small"):
        QcConfig(image_size=8, filters=(4, 8, 16, 32))
