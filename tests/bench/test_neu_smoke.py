"""bench.neu and bench.neu_split run end to end on tiny synthetic image folders (seconds).

Full-size runs on NEU are recorded in docs/benchmarks.md, not timed here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from tests.models.test_qc import synthetic_images

REPO = Path(__file__).resolve().parents[2]
TINY = {
    "image_size": 16, "filters": [4, 8], "epochs": 2, "batch_size": 8,
    "min_images_per_class": 4, "validation_fraction": 0.25,
}  # fmt: skip


def write_tree(root: Path, per_class: int) -> Path:
    images, labels = synthetic_images(per_class, seed=2)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).convert("RGB").save(root / label / f"{label}_{i}.jpg", quality=95)
    return root


def run_module(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=240
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def test_split_then_bench_prints_one_json_line_with_every_figure(tmp_path: Path) -> None:
    data = write_tree(tmp_path / "data", per_class=10)
    dev = tmp_path / "dev"
    run_module("bench.neu_split", "--data", str(data), "--holdout-per-class", "3", "--out", str(dev))
    for label in ("blobs", "stripes"):
        test = sorted(p.name for p in (dev / "test" / label).iterdir())
        train = sorted(p.name for p in (dev / "train" / label).iterdir())
        assert len(test) == 3 and len(train) == 7 and not set(test) & set(train)
        assert all((dev / "test" / label / name).is_symlink() for name in test)
    out = tmp_path / "result.json"
    completed = run_module(
        "bench.neu", "--train", str(dev / "train"), "--test", str(dev / "test"), "--out", str(out),
        "--config", json.dumps(TINY), "--repeats", "1", "--model-dir", str(tmp_path / "model"),
    )  # fmt: skip
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, completed.stdout  # logs go to stderr
    result: dict[str, Any] = json.loads(lines[0])
    assert json.loads(out.read_text()) == result
    assert result["train_images"] == 14 and result["test_images"] == 6 and result["epochs_run"] == 2
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["macro_f1"] <= 1
    assert set(result["per_class_recall"]) == {"blobs", "stripes"}
    assert 0 <= result["baseline_accuracy"] <= 1 and result["train_seconds"] > 0
    for key in ("onnx_images_per_s", "onnx_bytes_images_per_s", "keras_images_per_s"):
        assert result[key] > 0, key
    assert "cpu" in result["device"] or "gpu" in result["device"]
    assert (tmp_path / "model" / "model.onnx").is_file()
