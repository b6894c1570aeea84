"""Training a quality-control classifier: stratified split, fit with early stopping, held-out metrics.

Images are held out per class, in two parts drawn with the seed: the evaluation images (the reported
metrics; the caller may choose them, e.g. the newest inspections) and, from the rest, validation images
for early stopping and the learning-rate schedule. The network never learns from either. The classes
are the sorted distinct labels, whatever they are.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from numpy.typing import NDArray

from models.config import InsufficientDataError
from models.fitting import TrainingProgress
from models.qc import (
    QcConfig,
    build_qc_model,
    classification_metrics,
    confusion_matrix,
    inference_model,
    to_model_input,
)
from models.rul import detect_device

__all__ = ["TrainedQc", "TrainingProgress", "stratified_holdout", "train_qc"]

log = logging.getLogger(__name__)


@dataclass
class TrainedQc:
    """A trained classifier (float32, no augmentation layers) and how well it did on held-out images."""

    model: keras.Model
    classes: list[str]
    config: QcConfig
    metrics: dict[str, Any]  # accuracy, macro_f1, per_class_recall, n_evaluation, review_fraction
    history: dict[str, list[float]]
    device: str
    train_seconds: float
    epochs_run: int
    confusion: list[list[int]] = field(default_factory=list)  # evaluation counts [true][predicted]
    counts: dict[str, int] = field(default_factory=dict)  # images used to fit, stop early and evaluate

    def predict_proba(self, images: NDArray[np.uint8], batch_size: int = 256) -> NDArray[np.float32]:
        """[N, classes] probabilities of images [N, size, size] (decoded by `models.images`)."""
        return predict_proba(self.model, images, batch_size)


def predict_proba(model: keras.Model, images: NDArray[Any], batch_size: int = 256) -> NDArray[np.float32]:
    x = to_model_input(images)
    out = (
        model.predict(x, batch_size=batch_size, verbose=0)
        if len(x) > batch_size
        else model(x, training=False)
    )
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)


def stratified_holdout(y: NDArray[np.int64], fraction: float, rng: np.random.Generator) -> NDArray[np.bool_]:
    """A mask holding out round(fraction x n) images of each class (at least one, never all)."""
    held = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        take = min(max(1, round(fraction * len(members))), len(members) - 1)
        held[rng.choice(members, size=take, replace=False)] = True
    return held


def train_qc(
    images: NDArray[np.uint8],
    labels: Sequence[str],
    config: QcConfig,
    evaluation: NDArray[np.bool_] | None = None,
    progress: Callable[[TrainingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainedQc:
    """Train on images [N, size, size] and their labels; evaluate on `evaluation` (None: a stratified split).

    Raises InsufficientDataError when there are fewer than two classes, a class has fewer than
    `min_images_per_class` images, or the evaluation mask leaves a class without two training images.
    """
    started = time.perf_counter()
    size = config.image_size
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (size, size):
        raise ValueError(f"images must be [N, {size}, {size}], got {list(images.shape)}")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    classes = sorted({str(v) for v in labels})
    y = np.asarray([classes.index(str(v)) for v in labels], dtype=np.int64)
    _require_enough(y, classes, config.min_images_per_class)
    rng = np.random.default_rng(config.seed)
    held_out = _evaluation_mask(y, evaluation, config.validation_fraction, rng, classes)
    train_idx = np.flatnonzero(~held_out)
    stop_mask = stratified_holdout(y[train_idx], config.validation_fraction, rng)
    fit_idx, stop_idx = train_idx[~stop_mask], train_idx[stop_mask]

    device = detect_device()
    batch = config.gpu_batch_size if device.is_gpu else config.batch_size
    learning_rate = config.learning_rate * math.sqrt(batch / config.batch_size)
    dtype = "mixed_float16" if device.is_gpu and config.mixed_precision else "float32"
    keras.utils.set_random_seed(config.seed)
    model = build_qc_model(config, len(classes), dtype=dtype, augment=True)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    log.info(
        "training a %d-class image classifier on %s (batch %d, %s): %d images, %d for early stopping, "
        "%d for evaluation", len(classes), device.describe(), batch, dtype, len(fit_idx), len(stop_idx),
        int(held_out.sum()),
    )  # fmt: skip
    counts = np.bincount(y[fit_idx], minlength=len(classes))
    class_weight = (
        {i: len(fit_idx) / (len(classes) * int(c)) for i, c in enumerate(counts)}
        if config.balance_classes
        else None
    )
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(
            factor=0.5, patience=config.plateau_patience, min_lr=learning_rate / 32
        ),
        _Progress(config.epochs, progress, should_stop),
    ]
    fit = model.fit(
        to_model_input(images[fit_idx]),
        y[fit_idx],
        validation_data=(to_model_input(images[stop_idx]), y[stop_idx]),
        epochs=config.epochs,
        batch_size=batch,
        shuffle=True,
        class_weight=class_weight,
        callbacks=callbacks,
        verbose=0,
    )
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    served = inference_model(model, config, len(classes))

    eval_idx = np.flatnonzero(held_out)
    proba = predict_proba(served, images[eval_idx])
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    truth = [classes[i] for i in y[eval_idx]]
    metrics = classification_metrics(truth, predicted, classes)
    metrics["n_evaluation"] = len(eval_idx)
    metrics["review_fraction"] = float(np.mean(proba.max(axis=1) < config.review_threshold))
    seconds = time.perf_counter() - started
    log.info(
        "trained in %.1f s (%d epochs): accuracy %.4f, macro F1 %.4f on %d held-out images",
        seconds, len(history.get("loss", [])), metrics["accuracy"], metrics["macro_f1"], len(eval_idx),
    )  # fmt: skip
    return TrainedQc(
        model=served,
        classes=classes,
        config=config,
        metrics=metrics,
        history=history,
        device=device.describe(),
        train_seconds=seconds,
        epochs_run=len(history.get("loss", [])),
        confusion=confusion_matrix(truth, predicted, classes),
        counts={"fit": len(fit_idx), "early_stopping": len(stop_idx), "evaluation": len(eval_idx)},
    )


def _require_enough(y: NDArray[np.int64], classes: list[str], minimum: int) -> None:
    if len(classes) < 2:
        raise InsufficientDataError(
            f"a classifier needs at least 2 classes, the labels name {len(classes)}: {classes}"
        )
    counts = np.bincount(y, minlength=len(classes))
    short = [f"{name!r} has {int(n)}" for name, n in zip(classes, counts, strict=True) if n < minimum]
    if short:
        raise InsufficientDataError(
            f"every class needs at least {minimum} labelled images: {', '.join(short)}"
        )


def _evaluation_mask(
    y: NDArray[np.int64],
    evaluation: NDArray[np.bool_] | None,
    fraction: float,
    rng: np.random.Generator,
    classes: list[str],
) -> NDArray[np.bool_]:
    if evaluation is None:
        return stratified_holdout(y, fraction, rng)
    mask = np.asarray(evaluation, dtype=bool)
    if mask.shape != y.shape:
        raise ValueError(f"evaluation must mark each of the {len(y)} images, got shape {list(mask.shape)}")
    if not mask.any():
        raise InsufficientDataError("no image is marked for evaluation")
    left = np.bincount(y[~mask], minlength=len(classes))
    short = [f"{name!r} keeps {int(n)}" for name, n in zip(classes, left, strict=True) if n < 2]
    if short:
        raise InsufficientDataError(
            "every class needs at least 2 training images besides the evaluation ones (one to fit, one "
            f"for early stopping): {', '.join(short)}"
        )
    return mask


class _Progress(keras.callbacks.Callback):
    def __init__(
        self,
        epochs: int,
        hook: Callable[[TrainingProgress], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        super().__init__()
        self.epochs, self.hook, self.should_stop = epochs, hook, should_stop
        self.best = math.inf
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        val = float(logs.get("val_loss", math.nan))
        self.best = min(self.best, val)
        log.debug("epoch %d: %s", epoch + 1, {k: round(float(v), 4) for k, v in logs.items()})
        if self.hook is not None:
            self.hook(
                TrainingProgress(
                    epoch=epoch + 1, epochs=self.epochs, member=0, members=1,
                    loss=float(logs.get("loss", math.nan)), val_loss=val, best_val_loss=self.best,
                    seconds=time.perf_counter() - self.started,
                )
            )  # fmt: skip
        if self.should_stop is not None and self.should_stop():
            log.info("training stopped on request after epoch %d", epoch + 1)
            self.model.stop_training = True
