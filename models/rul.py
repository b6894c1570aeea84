"""The RUL network (Keras 3, backend-neutral): sensor window in, RUL in cycles and failure probability out.

Built only from stock Keras layers so that a saved `.keras` file loads with `safe_mode=True` and the
ONNX export needs nothing of ours. Losses ignore unknown (NaN) labels of censored runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
from keras import layers, ops

from models.config import ArchitectureConfig
from models.names import FAILURE_OUTPUT, INPUT_NAME, RUL_OUTPUT

__all__ = ["FAILURE_OUTPUT", "INPUT_NAME", "RUL_OUTPUT"]


@dataclass(frozen=True)
class DeviceInfo:
    """Where training runs: `name` like "gpu:0" or "cpu:0", and the backend in use."""

    name: str
    backend: str

    @property
    def is_gpu(self) -> bool:
        return self.name.startswith("gpu")

    def describe(self) -> str:
        return f"{self.backend}/{self.name}"


def detect_device() -> DeviceInfo:
    """A GPU when the backend sees one, the CPU otherwise, asked of Keras and never of a backend API."""
    backend = keras.config.backend()
    try:
        gpus = keras.distribution.list_devices("gpu")
    except Exception:  # the torch backend has no distribution support: ask where a tensor lands
        placed = str(getattr(ops.zeros((1,)), "device", "cpu")).lower()
        gpus = ["gpu:0"] if ("cuda" in placed or "gpu" in placed) else []
    return DeviceInfo(name=gpus[0] if gpus else "cpu:0", backend=backend)


@keras.saving.register_keras_serializable(package="plantwatch")
class MaskedMSE(keras.losses.Loss):
    """Mean squared error on `scale`-divided values, zero where the label is NaN (unknown)."""

    def __init__(self, scale: float = 1.0, name: str = "masked_mse", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.scale = float(scale)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
        known = ops.logical_not(ops.isnan(y_true))
        safe = ops.where(known, y_true, ops.zeros_like(y_true))  # no NaN may reach the gradient
        error = ops.square((safe - y_pred) / self.scale) * ops.cast(known, y_pred.dtype)
        return ops.mean(error, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="plantwatch")
class MaskedBCE(keras.losses.Loss):
    """Binary cross-entropy, zero where the label is NaN (unknown)."""

    def __init__(self, name: str = "masked_bce", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
        known = ops.logical_not(ops.isnan(y_true))
        safe = ops.where(known, y_true, ops.zeros_like(y_true))
        p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        loss = -(safe * ops.log(p) + (1.0 - safe) * ops.log(1.0 - p))
        return ops.mean(loss * ops.cast(known, y_pred.dtype), axis=-1)


def build_rul_model(
    arch: ArchitectureConfig,
    window: int,
    n_features: int,
    cap: float,
    dtype: str = "float32",
    name: str | None = None,
) -> keras.Model:
    """The network; `dtype` is a Keras dtype policy ("mixed_float16" on a GPU). Heads stay float32."""
    inputs = keras.Input((window, n_features), name=INPUT_NAME)
    rul, failure = _graph(inputs, arch, window, cap, dtype)
    rul = layers.Rescaling(1.0, dtype="float32", name=RUL_OUTPUT)(rul)
    failure = layers.Identity(dtype="float32", name=FAILURE_OUTPUT)(failure)
    return keras.Model(inputs, {RUL_OUTPUT: rul, FAILURE_OUTPUT: failure}, name=name or f"rul_{arch.kind}")


def ensemble_model(
    members: list[keras.Model], arch: ArchitectureConfig, window: int, n_features: int, cap: float
) -> keras.Model:
    """One flat float32 graph averaging the members (weights copied by layer name).

    Flat rather than nesting the member models: the torch backend's ONNX export cannot trace nested
    models' weights.
    """
    inputs = keras.Input((window, n_features), name=INPUT_NAME)
    heads = [_graph(inputs, arch, window, cap, "float32", prefix=f"m{i}_") for i in range(len(members))]
    rul = layers.Average(name=RUL_OUTPUT)([h[0] for h in heads])
    failure = layers.Average(name=FAILURE_OUTPUT)([h[1] for h in heads])
    model = keras.Model(inputs, {RUL_OUTPUT: rul, FAILURE_OUTPUT: failure}, name="rul_ensemble")
    for i, member in enumerate(members):
        for layer in member.layers:
            if layer.weights:
                model.get_layer(f"m{i}_{layer.name}").set_weights(layer.get_weights())
    return model


def _graph(
    inputs: Any, arch: ArchitectureConfig, window: int, cap: float, dtype: str, prefix: str = ""
) -> Any:
    """(RUL in cycles, failure probability) tensors of one network; layer names start with `prefix`."""
    x = inputs
    if arch.kind in ("cnn_lstm", "lstm"):
        if arch.kind == "cnn_lstm":
            for i in range(arch.conv_layers):
                x = layers.Conv1D(
                    arch.conv_filters, arch.conv_kernel, padding="same", activation="relu",
                    dtype=dtype, name=f"{prefix}conv{i}",
                )(x)  # fmt: skip
            if arch.time_pool > 1:
                x = layers.MaxPooling1D(
                    arch.time_pool, padding="same", dtype=dtype, name=f"{prefix}time_pool"
                )(x)  # fmt: skip
        for i, units in enumerate(arch.lstm_units):
            last = i == len(arch.lstm_units) - 1
            x = layers.LSTM(units, return_sequences=not last, dtype=dtype, name=f"{prefix}lstm{i}")(x)
            if arch.dropout and not last:
                x = layers.Dropout(arch.dropout, dtype=dtype, name=f"{prefix}dropout{i}")(x)
    elif arch.kind == "tcn":
        x = _tcn(x, arch, dtype, prefix)
        x = layers.Cropping1D((window - 1, 0), dtype=dtype, name=f"{prefix}last_step")(x)
        x = layers.Flatten(dtype=dtype, name=f"{prefix}flatten")(x)
    else:
        raise ValueError(f"unknown architecture {arch.kind!r}")
    x = layers.Dense(arch.dense_units, activation="relu", dtype=dtype, name=f"{prefix}dense")(x)
    if arch.dropout:
        x = layers.Dropout(arch.dropout, dtype=dtype, name=f"{prefix}dropout")(x)
    rul = layers.Dense(1, dtype="float32", name=f"{prefix}rul_scaled")(x)
    rul = layers.Rescaling(cap, dtype="float32", name=f"{prefix}rul_cycles")(rul)
    failure = layers.Dense(1, activation="sigmoid", dtype="float32", name=f"{prefix}failure_head")(x)
    return rul, failure


def _tcn(x: Any, arch: ArchitectureConfig, dtype: str, prefix: str) -> Any:
    """Residual blocks of dilated causal convolutions (Bai et al. 2018), one per dilation."""
    x = layers.Conv1D(arch.conv_filters, 1, dtype=dtype, name=f"{prefix}tcn_in")(x)
    for d in arch.tcn_dilations:
        y = layers.Conv1D(
            arch.conv_filters, arch.conv_kernel, padding="causal", dilation_rate=d,
            activation="relu", dtype=dtype, name=f"{prefix}tcn{d}a",
        )(x)  # fmt: skip
        if arch.dropout:
            y = layers.SpatialDropout1D(arch.dropout, dtype=dtype, name=f"{prefix}tcn{d}drop")(y)
        y = layers.Conv1D(
            arch.conv_filters, arch.conv_kernel, padding="causal", dilation_rate=d,
            activation="relu", dtype=dtype, name=f"{prefix}tcn{d}b",
        )(y)  # fmt: skip
        x = layers.Add(dtype=dtype, name=f"{prefix}tcn{d}add")([x, y])
    return x


def compile_rul_model(model: keras.Model, cap: float, learning_rate: float, failure_weight: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={RUL_OUTPUT: MaskedMSE(scale=cap), FAILURE_OUTPUT: MaskedBCE()},
        loss_weights={RUL_OUTPUT: 1.0, FAILURE_OUTPUT: failure_weight},
    )


def is_float32(model: keras.Model) -> bool:
    """Whether every layer computes in float32."""
    return all(layer.dtype_policy.name == "float32" for layer in model.layers)


def as_float32(model: keras.Model, arch: ArchitectureConfig, window: int, n_features: int, cap: float) -> Any:
    """The same weights in a float32 copy (ONNX export needs float32; mixed precision is for training)."""
    copy = build_rul_model(arch, window, n_features, cap, dtype="float32")
    copy.set_weights(model.get_weights())
    return copy
