"""Artifacts and serving: ONNX matches Keras, hashes are enforced, bad windows get clear errors."""

from __future__ import annotations

import json
import shutil
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest

from models.artifacts import (
    KERAS_FILE,
    ONNX_FILE,
    SIDECAR_FILE,
    ArtifactIntegrityError,
    load_keras_model,
    sha256_file,
)
from models.prediction import InvalidWindowError
from models.serving import RulPredictor
from models.training import TrainedRul, predict_scaled
from models.windows import last_windows
from tests.models.synthetic import SENSORS, synthetic_dataset


def _windows(trained: TrainedRul, machines: int = 5) -> np.ndarray:
    data = synthetic_dataset(machines=machines, seed=11)
    return last_windows(data.values, data.runs, trained.config.window)


def test_onnx_runtime_matches_keras(trained: TrainedRul, artifacts: tuple[Path, str]) -> None:
    directory, sidecar_sha = artifacts
    predictor = RulPredictor.load(directory, sidecar_sha256=sidecar_sha, threads=1)
    windows = _windows(trained)
    onnx, keras_pred = predictor.predict(windows), trained.predict(windows)
    np.testing.assert_allclose(onnx.rul, keras_pred.rul, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(onnx.failure_probability, keras_pred.failure_probability, atol=1e-4)
    np.testing.assert_allclose(onnx.low, keras_pred.low, atol=1e-3)
    np.testing.assert_allclose(onnx.high, keras_pred.high, atol=1e-3)
    assert predictor.window == trained.config.window and predictor.sensor_names == SENSORS
    assert predictor.info["dropped_sensors"] == ["constant"]


def test_sidecar_describes_the_model(trained: TrainedRul, artifacts: tuple[Path, str]) -> None:
    directory, sidecar_sha = artifacts
    assert sha256_file(directory / SIDECAR_FILE) == sidecar_sha
    meta = json.loads((directory / SIDECAR_FILE).read_text())
    assert meta["window"] == trained.config.window and meta["cap"] == trained.config.cap
    assert meta["conformal"]["high"] == list(trained.conformal.high)
    assert meta["files"][ONNX_FILE] == sha256_file(directory / ONNX_FILE)
    assert meta["metrics"]["rmse"] == pytest.approx(trained.metrics["rmse"])


def test_keras_file_loads_in_safe_mode(trained: TrainedRul, artifacts: tuple[Path, str]) -> None:
    model, meta = load_keras_model(artifacts[0], artifacts[1])
    x = np.random.default_rng(0).random((3, meta.window, len(meta.scaler.kept)), dtype=np.float32)
    np.testing.assert_allclose(
        predict_scaled(model, x, meta.conformal).rul,
        predict_scaled(trained.model, x, meta.conformal).rul,
        rtol=1e-5,
    )


@pytest.mark.parametrize("victim", [ONNX_FILE, KERAS_FILE])
def test_a_changed_model_file_is_refused(artifacts: tuple[Path, str], tmp_path: Path, victim: str) -> None:
    copy = tmp_path / "model"
    shutil.copytree(artifacts[0], copy)
    with (copy / victim).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ArtifactIntegrityError, match=f"{victim} does not match the SHA-256"):
        RulPredictor.load(copy)
    with pytest.raises(ArtifactIntegrityError):
        load_keras_model(copy)


def test_a_changed_sidecar_is_refused_when_its_hash_is_known(
    artifacts: tuple[Path, str], tmp_path: Path
) -> None:
    copy = tmp_path / "model"
    shutil.copytree(artifacts[0], copy)
    meta = json.loads((copy / SIDECAR_FILE).read_text())
    meta["conformal"]["high"][0] = 1.0  # a narrower interval than calibrated
    (copy / SIDECAR_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded SHA-256"):
        RulPredictor.load(copy, sidecar_sha256=artifacts[1])
    (copy / ONNX_FILE).unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        RulPredictor.load(copy)
    with pytest.raises(ArtifactIntegrityError, match="not a RUL model directory"):
        RulPredictor.load(tmp_path)


def test_bad_windows_are_refused_with_the_reason(artifacts: tuple[Path, str]) -> None:
    predictor = RulPredictor.load(artifacts[0])
    w = predictor.window
    with pytest.raises(InvalidWindowError, match=f"needs {w} time steps, got {w - 1}"):
        predictor.predict(np.zeros((1, w - 1, 4)))
    with pytest.raises(InvalidWindowError, match="needs 4 sensor values"):
        predictor.predict(np.zeros((1, w, 3)))
    bad = np.zeros((2, w, 4))
    bad[1, :, 0] = np.nan
    with pytest.raises(InvalidWindowError, match="window 1: sensor 'temp' has no value"):
        predictor.predict(bad)
    assert len(predictor.predict(np.zeros((0, w, 4)))) == 0
    assert len(predictor.predict(np.zeros((w, 4)))) == 1  # a single window may come without the batch axis


def test_explanations_name_kept_sensors_with_scores(trained: TrainedRul, artifacts: tuple[Path, str]) -> None:
    predictor = RulPredictor.load(artifacts[0])
    windows = _windows(trained, machines=2)
    scored, explained = predictor.predict_explained(windows, top_k=2)
    alone = predictor.predict(windows)  # the same figures as scoring without the explanation
    for figures, wanted in zip(astuple(scored), astuple(alone), strict=True):
        np.testing.assert_allclose(figures, wanted, rtol=1e-5, atol=1e-4)
    assert len(explained) == 2 and all(len(top) == 2 for top in explained)
    for top in explained:
        assert {c.sensor for c in top} <= {"temp", "vibration", "noise"}
        assert abs(top[0].score) >= abs(top[1].score)
