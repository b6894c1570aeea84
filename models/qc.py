"""The quality-control image classifier (Keras 3, backend-neutral): configuration, network, metrics.

A grayscale image [size, size] of raw pixel values (0-255, float32) goes in, class probabilities come
out. The network is plain and small so that it trains in minutes on two CPU cores: a strided first
convolution, then blocks of 3x3 convolutions with batch normalisation and max pooling, global average
pooling, dropout, softmax. During
training, stock Keras augmentation layers (flips, small shifts, contrast) sit in front of it; they are
not part of the exported model (`inference_model` copies the weights into a float32 twin without them).
Only stock layers are used, so a `.keras` file loads in safe mode and the ONNX export needs nothing of
ours. Keras is imported inside the functions that build networks: serving imports this module for the
configuration alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

INPUT_NAME = "image"
OUTPUT_NAME = "proba"


@dataclass(frozen=True)
class QcConfig:
    """Everything `models.qc_training.train_qc` needs to know besides the images and their labels."""

    image_size: int = 128  # images are decoded (models.images) to image_size x image_size grayscale
    filters: tuple[int, ...] = (16, 32, 64, 128)  # one block per entry, each halving the resolution
    stem_stride: int = 2  # stride of the first convolution: 2 quarters the cost of every block
    convs_per_block: int = 1
    dropout: float = 0.3
    epochs: int = 40
    batch_size: int = 32  # on CPU
    gpu_batch_size: int = 128  # on a GPU (learning rate scaled by the square root of the ratio)
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4  # AdamW
    patience: int = 8  # early stopping on the validation images' loss (best weights kept)
    plateau_patience: int = 3  # halve the learning rate after this many epochs without improvement
    seed: int = 42
    validation_fraction: float = 0.15  # per class: held out for early stopping (and for evaluation)
    review_threshold: float = 0.6  # a prediction less confident than this is flagged for human review
    min_images_per_class: int = 10
    balance_classes: bool = True  # weigh classes inversely to their frequency in the loss
    mixed_precision: bool = True  # used only on a GPU
    augment_flip: bool = True  # random horizontal and vertical flips
    augment_translation: float = 0.1  # random shifts, as a fraction of the size (0: none)
    augment_zoom: float = 0.0  # random zoom in or out by up to this fraction (0: none)
    augment_rotation: float = 0.0  # random rotation by up to this fraction of a full turn (0: none)
    augment_contrast: float = 0.1  # random contrast change by up to this factor (0: none)

    def __post_init__(self) -> None:
        if self.image_size < self.stem_stride * 2 ** len(self.filters):
            raise ValueError(f"image_size {self.image_size} is too small for {len(self.filters)} blocks")
        if not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must be between 0 and 1")
        if not 0 <= self.review_threshold <= 1:
            raise ValueError("review_threshold must be between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["filters"] = list(self.filters)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QcConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown QcConfig fields: {', '.join(unknown)}")
        values = dict(data)
        if "filters" in values:
            values["filters"] = tuple(int(v) for v in values["filters"])
        return cls(**values)


def build_qc_model(
    config: QcConfig, n_classes: int, dtype: str = "float32", augment: bool = True
) -> keras.Model:
    """The network; `dtype` is a Keras dtype policy ("mixed_float16" on a GPU); the output stays float32."""
    import keras
    from keras import layers

    size = config.image_size
    inputs = keras.Input((size, size), name=INPUT_NAME)
    x = layers.Reshape((size, size, 1), name="channel")(inputs)
    if augment:
        x = _augmentation(x, config)
    x = layers.Rescaling(1.0 / 255.0, dtype=dtype, name="rescale")(x)
    for i, width in enumerate(config.filters):
        for j in range(config.convs_per_block):
            stride = config.stem_stride if i == j == 0 else 1
            x = layers.Conv2D(
                width, 3, strides=stride, padding="same", use_bias=False, dtype=dtype, name=f"conv{i}_{j}"
            )(x)
            # momentum 0.9, not 0.99: a few hundred images make few steps per epoch, and slow running
            # statistics would leave inference far from training for many epochs
            x = layers.BatchNormalization(momentum=0.9, dtype=dtype, name=f"bn{i}_{j}")(x)
            x = layers.Activation("relu", dtype=dtype, name=f"relu{i}_{j}")(x)
        x = layers.MaxPooling2D(2, dtype=dtype, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(dtype=dtype, name="gap")(x)
    if config.dropout:
        x = layers.Dropout(config.dropout, dtype=dtype, name="dropout")(x)
    x = layers.Dense(n_classes, dtype="float32", name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="qc_cnn")


def _augmentation(x: Any, config: QcConfig) -> Any:
    """Random flips, shifts, zoom, rotation and contrast on raw 0-255 pixels (training only)."""
    from keras import layers

    seed = config.seed
    if config.augment_flip:
        x = layers.RandomFlip("horizontal_and_vertical", seed=seed, name="aug_flip")(x)
    if config.augment_rotation:
        x = layers.RandomRotation(
            config.augment_rotation, fill_mode="reflect", seed=seed + 1, name="aug_rotation"
        )(x)
    if config.augment_translation:
        t = config.augment_translation
        x = layers.RandomTranslation(t, t, fill_mode="reflect", seed=seed + 2, name="aug_shift")(x)
    if config.augment_zoom:
        x = layers.RandomZoom(config.augment_zoom, fill_mode="reflect", seed=seed + 3, name="aug_zoom")(x)
    if config.augment_contrast:
        x = layers.RandomContrast(
            config.augment_contrast, value_range=(0, 255), seed=seed + 4, name="aug_contrast"
        )(x)
    return x


def inference_model(model: keras.Model, config: QcConfig, n_classes: int) -> keras.Model:
    """A float32 copy without augmentation layers, weights copied by layer name: what is saved and served."""
    copy = build_qc_model(config, n_classes, dtype="float32", augment=False)
    for layer in copy.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(model.get_layer(layer.name).get_weights())
    return copy


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W] (or one [H, W] image) as the float32 batch the network takes."""
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[None]
    return np.ascontiguousarray(x, dtype=np.float32)


def classification_metrics(
    true_labels: Sequence[str], predicted_labels: Sequence[str], classes: Sequence[str]
) -> dict[str, Any]:
    """accuracy, macro_f1 (over `classes` seen in either list) and per_class_recall (None: no example).

    Labels outside `classes` simply count as wrong, so a champion trained on other classes can be
    scored on a candidate's evaluation images.
    """
    truth = np.asarray([str(v) for v in true_labels])
    predicted = np.asarray([str(v) for v in predicted_labels])
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predictions")
    if len(truth) == 0:
        raise ValueError("no labels to score")
    recall: dict[str, float | None] = {}
    f1: list[float] = []
    for name in classes:
        is_true, is_predicted = truth == name, predicted == name
        tp = int(np.sum(is_true & is_predicted))
        support, claimed = int(np.sum(is_true)), int(np.sum(is_predicted))
        recall[str(name)] = tp / support if support else None
        if support + claimed:
            f1.append(2 * tp / (support + claimed))
    return {
        "accuracy": float(np.mean(truth == predicted)),
        "macro_f1": float(np.mean(f1)) if f1 else 0.0,
        "per_class_recall": recall,
    }


def confusion_matrix(
    true_labels: Sequence[str], predicted_labels: Sequence[str], classes: Sequence[str]
) -> list[list[int]]:
    """Counts [true class][predicted class] in `classes` order (labels outside `classes` are left out)."""
    index = {str(name): i for i, name in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=int)
    for t, p in zip(true_labels, predicted_labels, strict=True):
        if str(t) in index and str(p) in index:
            counts[index[str(t)], index[str(p)]] += 1
    return counts.tolist()
