"""Quality-control benchmark on NEU surface defects: train with the product's own code, evaluate held out.

    python -m bench.neu --train DIR --test DIR [--out result.json] [--config '{"epochs": 30}']

Both folders hold one sub-folder per class (the folder name is the label). Images are decoded with
`models.images` (grayscale, `image_size`) and `models.qc_training.train_qc` trains on the --train
images, early-stopping on a stratified part of them; the --test images are passed as its evaluation
images, so they are never learned from nor used to stop. The artifacts are saved, reloaded (hash
checked) and the test images classified with ONNX Runtime. One JSON line: accuracy, macro F1,
per-class recall, review fraction, training time and device, throughput of ONNX Runtime and Keras
(`--threads` CPU threads, images already decoded; `onnx_bytes_images_per_s` includes JPEG decoding),
and `baseline_accuracy`: a softmax regression on intensity and gradient histograms, for scale.
Make development folders with `python -m bench.neu_split`; never tune on the kept-aside test set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench.common import emit, machine, setup_logging
from bench.neu_split import class_images
from models.images import load_images
from models.qc import QcConfig, classification_metrics
from models.qc_artifacts import save_qc_artifacts
from models.qc_serving import QcClassifier
from models.qc_training import TrainingProgress, train_qc

log = logging.getLogger("bench.neu")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True, help="folder per class: training images")
    parser.add_argument("--test", type=Path, required=True, help="folder per class: held-out images")
    parser.add_argument("--out", type=Path, help="also write the JSON line here")
    parser.add_argument("--config", default="{}", help="JSON overrides of models.qc.QcConfig fields")
    parser.add_argument("--model-dir", type=Path, help="keep the model artifacts here (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the throughput figures")
    parser.add_argument("--repeats", type=int, default=3, help="timing repetitions over the test images")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    config = QcConfig.from_dict({**QcConfig().to_dict(), **json.loads(args.config)})
    if args.model_dir is not None:
        result = run(args.train, args.test, config, args.model_dir, args.threads, args.repeats)
    else:
        with tempfile.TemporaryDirectory(prefix="neu-model-") as tmp:
            result = run(args.train, args.test, config, Path(tmp), args.threads, args.repeats)
    emit(result, args.out)


def read_tree(root: Path, size: int) -> tuple[NDArray[np.uint8], list[str], list[Path]]:
    files = class_images(root)
    paths = [p for name in files for p in files[name]]
    labels = [name for name in files for _ in files[name]]
    return load_images(paths, size), labels, paths


def run(
    train_dir: Path, test_dir: Path, config: QcConfig, model_dir: Path, threads: int, repeats: int
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    size = config.image_size
    train_x, train_y, _ = read_tree(train_dir, size)
    test_x, test_y, test_paths = read_tree(test_dir, size)
    log.info("%d training and %d test images at %dx%d", len(train_x), len(test_x), size, size)
    evaluation = np.concatenate([np.zeros(len(train_x), bool), np.ones(len(test_x), bool)])
    cpu_before = time.process_time()
    trained = train_qc(
        np.concatenate([train_x, test_x]), train_y + test_y, config, evaluation, progress=log_epoch
    )
    train_cpu_seconds = time.process_time() - cpu_before
    sidecar_sha = save_qc_artifacts(trained, model_dir)
    classifier = QcClassifier.load(model_dir, sidecar_sha256=sidecar_sha, threads=threads)
    result = classifier.classify(test_x)
    metrics = classification_metrics(test_y, result.labels, classifier.classes)
    if abs(metrics["accuracy"] - trained.metrics["accuracy"]) > 1e-9:
        log.warning(
            "ONNX accuracy %.4f differs from Keras %.4f", metrics["accuracy"], trained.metrics["accuracy"]
        )
    payloads = [p.read_bytes() for p in test_paths]
    baseline = baseline_accuracy(train_x, train_y, test_x, test_y)
    return {
        "benchmark": "neu",
        "train_images": len(train_x),
        "test_images": len(test_x),
        "classes": classifier.classes,
        "accuracy": round(metrics["accuracy"], 4),
        "macro_f1": round(metrics["macro_f1"], 4),
        "per_class_recall": {
            k: (None if v is None else round(v, 4)) for k, v in metrics["per_class_recall"].items()
        },
        "review_fraction": round(float(np.mean(result.needs_review)), 4),
        "review_threshold": classifier.review_threshold,
        "errors": int(np.sum(np.asarray(result.labels) != np.asarray(test_y))),
        "train_seconds": round(trained.train_seconds, 1),
        "train_cpu_seconds": round(
            train_cpu_seconds, 1
        ),  # all threads: a shared machine's wall time misleads
        "epochs_run": trained.epochs_run,
        "device": trained.device,
        "onnx_images_per_s": round(throughput(lambda: classifier.classify(test_x), len(test_x), repeats), 1),
        "onnx_bytes_images_per_s": round(
            throughput(lambda: classifier.classify_bytes(payloads), len(test_x), repeats), 1
        ),
        "keras_images_per_s": round(keras_throughput(trained.model, test_x, repeats), 1),
        "threads": threads,  # ONNX Runtime; Keras uses the backend's default (every core)
        "baseline_accuracy": round(baseline, 4),
        "confusion": trained.confusion,
        "misclassified": [
            {"file": path.name, "true": truth, "predicted": label, "confidence": round(float(conf), 3)}
            for path, truth, label, conf in zip(
                test_paths, test_y, result.labels, result.confidence, strict=True
            )
            if truth != label
        ],
        "config": config.to_dict(),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "machine": machine(),
    }


def throughput(work: Any, images: int, repeats: int) -> float:
    work()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        work()
    return images * repeats / (time.perf_counter() - started)


def log_epoch(p: TrainingProgress) -> None:
    log.info(
        "epoch %d/%d: loss %.4f, validation loss %.4f (%.0f s)",
        p.epoch,
        p.epochs,
        p.loss,
        p.val_loss,
        p.seconds,
    )


def keras_throughput(model: Any, images: NDArray[np.uint8], repeats: int) -> float:
    """Keras `predict` (batches of 64) on the backend's default device and threads."""
    x = images.astype(np.float32)
    return throughput(lambda: model.predict(x, batch_size=64, verbose=0), len(x), repeats)


def histogram_features(images: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Per image: intensity histogram, histograms of |d/dx| and |d/dy|, mean and spread of each."""
    x = images.astype(np.float64)
    dx, dy = np.abs(np.diff(x, axis=2)), np.abs(np.diff(x, axis=1))
    rows = []
    for img, gx, gy in zip(x, dx, dy, strict=True):
        parts = [
            np.histogram(img, bins=32, range=(0, 256))[0] / img.size,
            np.histogram(gx, bins=16, range=(0, 64))[0] / gx.size,
            np.histogram(gy, bins=16, range=(0, 64))[0] / gy.size,
            [img.mean() / 255, img.std() / 255, gx.mean() / 64, gy.mean() / 64],
        ]
        rows.append(np.concatenate(parts))
    return np.asarray(rows)


def baseline_accuracy(
    train_x: NDArray[np.uint8], train_y: list[str], test_x: NDArray[np.uint8], test_y: list[str]
) -> float:
    """Multinomial logistic regression (full-batch gradient descent, L2) on `histogram_features`."""
    classes = sorted(set(train_y))
    y = np.asarray([classes.index(c) for c in train_y])
    a, b = histogram_features(train_x), histogram_features(test_x)
    mean, std = a.mean(axis=0), a.std(axis=0) + 1e-9
    a, b = (a - mean) / std, (b - mean) / std
    weights = np.zeros((a.shape[1], len(classes)))
    onehot = np.eye(len(classes))[y]
    for _ in range(500):
        logits = a @ weights
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        weights -= 0.5 * (a.T @ (p - onehot) / len(a) + 1e-3 * weights)
    predicted = [classes[i] for i in (b @ weights).argmax(axis=1)]
    return float(np.mean(np.asarray(predicted) == np.asarray(test_y)))


if __name__ == "__main__":
    main()
