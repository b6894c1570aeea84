"""bench.cmapss and bench.cmapss_split run end to end on tiny C-MAPSS-format files (seconds).

Full-size runs on FD001 are recorded in docs/benchmarks.md, not timed here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from bench.cmapss import error_by_stage
from bench.cmapss_replay_model import evaluate_model_dir
from tests.models.synthetic import write_cmapss_like

REPO = Path(__file__).resolve().parents[2]
FD001 = REPO.parent / "shared" / "data" / "cmapss" / "train_FD001.txt"
TINY = {
    "epochs": 1,
    "window": 10,
    "min_history": 5,
    "cap": 40,
    "horizon": 10,
    "validation_fraction": 0.25,
    "calibration_fraction": 0.25,
    "architecture": {
        "kind": "cnn_lstm",
        "conv_filters": 4,
        "conv_layers": 1,
        "lstm_units": [4],
        "dense_units": 4,
    },
}


def run_module(module: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def test_cmapss_bench_prints_one_json_line_with_every_figure(tmp_path: Path) -> None:
    train, test, rul = write_cmapss_like(tmp_path / "data", engines=8)
    out = tmp_path / "result.json"
    completed = run_module(
        "bench.cmapss", "--train", str(train), "--test", str(test), "--rul", str(rul),
        "--out", str(out), "--config", json.dumps(TINY), "--repeats", "2",
        "--model-dir", str(tmp_path / "model"), "--predictions", str(tmp_path / "units.csv"),
    )  # fmt: skip
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, completed.stdout  # logs go to stderr
    result: dict[str, Any] = json.loads(lines[0])
    assert json.loads(out.read_text()) == result
    for key in ("rmse", "score", "coverage", "interval_width", "train_seconds", "device",
                "onnx_us_per_engine", "keras_us_per_engine", "baseline_rmse"):  # fmt: skip
        assert key in result, key
    assert result["engines"] == 8 and result["epochs_run"] == 1
    assert result["rmse"] >= 0 and result["score"] >= 0 and result["interval_width"] > 0
    assert 0 <= result["coverage"] <= 1
    assert result["interval_level"] == 0.9  # two calibration engines are too few to raise it
    assert result["onnx_us_per_engine"] > 0 and result["keras_us_per_engine"] > 0
    assert "cpu" in result["device"] or "gpu" in result["device"]
    assert (tmp_path / "model" / "model.onnx").is_file()
    stages = result["by_stage"]
    assert sum(stages[k]["n"] for k in stages if "true_rul" in k) == 8
    assert sum(stages[k]["n"] for k in stages if "history" in k) == 8
    units = read_units(tmp_path / "units.csv")
    np.testing.assert_array_equal(units["true_rul"], np.loadtxt(rul))
    assert np.sqrt(np.mean((units["rul"] - units["true_rul"]) ** 2)) == pytest.approx(
        result["rmse"], abs=2e-3
    )
    assert ((units["low"] <= units["rul"]) & (units["rul"] <= units["high"])).all()
    assert list(units["history"]) == list(np.bincount(np.loadtxt(test)[:, 0].astype(int))[1:])
    # bench.cmapss_replay scores a model directory by the file's columns; with the run age and drift
    # inputs (on by default here) it must build the same windows
    assert evaluate_model_dir(tmp_path / "model", test, rul)["rmse"] == pytest.approx(
        result["rmse"], abs=2e-3
    )


def read_units(path: Path) -> NDArray[np.void]:
    """bench.cmapss --predictions: one row per test unit, columns by name."""
    return np.genfromtxt(path, delimiter=",", names=True)


def test_error_by_stage_splits_the_engines_by_true_rul_and_by_history() -> None:
    truth = np.array([10.0, 50.0, 100.0, 140.0])
    predicted = np.array([14.0, 47.0, 110.0, 125.0])
    stages = error_by_stage(truth, predicted, np.array([20, 80, 90, 25]), window=30, cap=125)
    assert stages["true_rul<=62"] == {
        "n": 2,
        "rmse": pytest.approx(np.sqrt((16 + 9) / 2), abs=1e-3),
        "bias": 0.5,
    }
    assert stages["62<true_rul<=125"] == {"n": 1, "rmse": 10.0, "bias": 10.0}
    assert stages["true_rul>125"] == {"n": 1, "rmse": 15.0, "bias": -15.0}
    assert stages["history<30"] == {
        "n": 2,
        "rmse": pytest.approx(np.sqrt((16 + 225) / 2), abs=1e-3),
        "bias": -5.5,
    }
    assert stages["history>=30"]["n"] == 2
    assert error_by_stage(truth, predicted, np.full(4, 50), window=30, cap=125)["history<30"] == {"n": 0}


def test_split_writes_official_format_files_whose_rul_matches_the_cut(tmp_path: Path) -> None:
    train, _, _ = write_cmapss_like(tmp_path / "data", engines=8)
    out = tmp_path / "dev"
    run_module("bench.cmapss_split", "--train", str(train), "--holdout", "3", "--cuts", "2",
               "--min-keep", "20", "--out", str(out))  # fmt: skip
    full, rest, cut = (
        np.loadtxt(out / name, ndmin=2) for name in ("../data/train.txt", "train.txt", "test.txt")
    )
    rul = np.loadtxt(out / "RUL.txt", ndmin=1)
    assert len(np.unique(rest[:, 0])) == 5 and len(np.unique(cut[:, 0])) == len(rul) == 6
    assert np.array_equal(np.unique(cut[:, 0]), np.arange(1, 7))
    for unit, remaining in zip(range(1, 7), rul, strict=True):
        rows = cut[cut[:, 0] == unit]
        # the held-out engine's full series ends `remaining` cycles after the cut (its true RUL)
        source = full[np.isclose(full[:, 5:], rows[0, 5:]).all(axis=1), 0]
        engine = full[full[:, 0] == source[0]]
        assert len(engine) - len(rows) == remaining >= 1 and len(rows) >= 20
        np.testing.assert_array_equal(
            engine[: len(rows)], np.column_stack([np.full(len(rows), source[0]), rows[:, 1:]])
        )


@pytest.mark.skipif(not FD001.is_file(), reason=f"{FD001} is absent (C-MAPSS lives in ../shared/data)")
def test_split_of_fd001_resembles_the_official_test_set(tmp_path: Path) -> None:
    run_module("bench.cmapss_split", "--train", str(FD001), "--holdout", "20", "--out", str(tmp_path))
    rul = np.loadtxt(tmp_path / "RUL.txt")
    test = np.loadtxt(tmp_path / "test.txt")
    assert len(rul) == 20 and rul.min() >= 1 and rul.max() <= 145
    assert np.bincount(test[:, 0].astype(int))[1:].min() >= 31
    assert len(np.unique(np.loadtxt(tmp_path / "train.txt")[:, 0])) == 80


def test_folds_hold_out_disjoint_groups_that_cover_every_engine(tmp_path: Path) -> None:
    train, _, _ = write_cmapss_like(tmp_path / "data", engines=7)
    full = np.loadtxt(train, ndmin=2)
    held: list[set[float]] = []
    for k in range(3):
        out = tmp_path / f"fold{k}"
        run_module("bench.cmapss_split", "--train", str(train), "--folds", "3", "--fold", str(k),
                   "--min-keep", "20", "--out", str(out))  # fmt: skip
        kept = set(np.loadtxt(out / "train.txt", ndmin=2)[:, 0])
        held.append(set(full[:, 0]) - kept)
        assert len(np.unique(np.loadtxt(out / "test.txt", ndmin=2)[:, 0])) == len(held[-1])
    assert sorted(len(h) for h in held) == [2, 2, 3]
    assert set.union(*held) == set(full[:, 0]) and sum(len(h) for h in held) == 7


def test_cross_validation_pools_every_fold_into_one_json_line(tmp_path: Path) -> None:
    train, _, _ = write_cmapss_like(tmp_path / "data", engines=8)
    config = {**TINY, "calibration_fraction": 0}
    completed = run_module("bench.cmapss_cv", "--train", str(train), "--folds", "2", "--cuts", "1",
                           "--config", json.dumps(config),
                           "--predictions", str(tmp_path / "units"))  # fmt: skip
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, completed.stdout
    result = json.loads(lines[0])
    folds = result["folds"]
    assert len(folds) == 2 and result["units"] == sum(f["engines"] for f in folds) == 8
    pooled_rmse = np.sqrt(sum(f["rmse"] ** 2 * f["engines"] for f in folds) / 8)
    assert result["rmse"] == pytest.approx(pooled_rmse, abs=1e-3)
    assert min(f["rmse"] for f in folds) <= result["rmse"] <= max(f["rmse"] for f in folds)
    assert result["score_per_100"] == pytest.approx(sum(f["score"] for f in folds) * 100 / 8, abs=0.2)
    stages = result["by_stage"]
    assert sum(stages[k]["n"] for k in stages if "history" in k) == 8
    assert sum(stages[k]["n"] for k in stages if "true_rul" in k) == 8
    units = [read_units(tmp_path / "units" / f"fold{k}.csv") for k in range(2)]
    assert [len(u) for u in units] == [f["engines"] for f in folds]
    errors = np.concatenate([u["rul"] - u["true_rul"] for u in units])
    assert np.sqrt(np.mean(errors**2)) == pytest.approx(result["rmse"], abs=2e-3)
