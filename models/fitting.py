"""Fitting one network (an ensemble member) with early stopping, and reporting progress per epoch."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from numpy.typing import NDArray

from models.config import RulConfig
from models.rul import FAILURE_OUTPUT, RUL_OUTPUT, DeviceInfo, build_rul_model, compile_rul_model
from models.windows import Windows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingProgress:
    """Reported after each epoch (1-based) of each ensemble member (0-based) to the progress hook."""

    epoch: int
    epochs: int
    member: int
    members: int
    loss: float
    val_loss: float
    best_val_loss: float
    seconds: float


def subset(w: Windows, mask: NDArray[np.bool_]) -> Windows:
    return Windows(w.x[mask], w.rul[mask], w.fails_within[mask], w.run[mask], w.end_row[mask])


def fit_member(
    train: Windows,
    val: Windows,
    config: RulConfig,
    device: DeviceInfo,
    member: int,
    members: int,
    progress: Callable[[TrainingProgress], None] | None,
    should_stop: Callable[[], bool] | None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """A network trained on `train`, early-stopped (best weights kept) on `val`'s RUL loss."""
    keras.utils.set_random_seed(config.seed + member)
    batch = config.gpu_batch_size if device.is_gpu else config.batch_size
    learning_rate = config.learning_rate * math.sqrt(batch / config.batch_size)
    dtype = "mixed_float16" if device.is_gpu and config.mixed_precision else "float32"
    n_features = train.x.shape[2]
    model = build_rul_model(
        config.architecture, config.window, n_features, config.cap, dtype, name=f"member{member}"
    )
    compile_rul_model(model, config.cap, learning_rate, config.failure_loss_weight)
    log.info(
        "training %s %d/%d on %s (batch %d, %s): %d windows, %d for early stopping",
        config.architecture.kind, member + 1, members, device.describe(), batch, dtype,
        len(train.rul), len(val.rul),
    )  # fmt: skip
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor=f"val_{RUL_OUTPUT}_loss", mode="min", patience=config.patience, restore_best_weights=True
        ),
        _Progress(config.epochs, member, members, progress, should_stop),
    ]
    if config.lr_schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=f"val_{RUL_OUTPUT}_loss", mode="min", factor=0.5,
                patience=config.plateau_patience, min_lr=learning_rate / 32,
            )
        )  # fmt: skip
    fit = model.fit(
        train.x,
        {RUL_OUTPUT: train.rul, FAILURE_OUTPUT: train.fails_within},
        validation_data=(val.x, {RUL_OUTPUT: val.rul, FAILURE_OUTPUT: val.fails_within}),
        epochs=config.epochs,
        batch_size=batch,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    return model, {k: [float(v) for v in vs] for k, vs in fit.history.items()}


class _Progress(keras.callbacks.Callback):
    def __init__(
        self,
        epochs: int,
        member: int,
        members: int,
        hook: Callable[[TrainingProgress], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        super().__init__()
        self.epochs, self.member, self.members = epochs, member, members
        self.hook = hook
        self.should_stop = should_stop
        self.best = math.inf
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        val = float(logs.get(f"val_{RUL_OUTPUT}_loss", math.nan))
        self.best = min(self.best, val)
        if self.hook is not None:
            self.hook(
                TrainingProgress(
                    epoch=epoch + 1,
                    epochs=self.epochs,
                    member=self.member,
                    members=self.members,
                    loss=float(logs.get("loss", math.nan)),
                    val_loss=val,
                    best_val_loss=self.best,
                    seconds=time.perf_counter() - self.started,
                )
            )
        if self.should_stop is not None and self.should_stop():
            log.info("training stopped on request after epoch %d", epoch + 1)
            self.model.stop_training = True
