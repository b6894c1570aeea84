"""Tiny synthetic run-to-failure data: a few short degrading series, C-MAPSS-like, for fast tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from models.config import ArchitectureConfig, RulConfig, RulDataset
from models.windows import Runs

SENSORS = ["temp", "vibration", "noise", "constant"]


def degrading_series(length: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """[length, 4]: two sensors drift as failure nears, one is pure noise, one never changes."""
    life = np.arange(length) / max(length - 1, 1)
    wear = np.exp(3 * life) - 1
    return np.column_stack(
        [
            500 + 4 * wear + rng.normal(0, 0.3, length),
            1.0 - 0.05 * wear + rng.normal(0, 0.005, length),
            rng.normal(0, 1, length),
            np.full(length, 7.0),
        ]
    )


def synthetic_dataset(machines: int = 8, seed: int = 0, min_len: int = 40, max_len: int = 70) -> RulDataset:
    """One run to failure per machine."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=machines)
    values = np.concatenate([degrading_series(int(n), rng) for n in lengths])
    return RulDataset(
        values=values,
        sensor_names=list(SENSORS),
        runs=Runs.of(lengths),
        machines=np.asarray([f"m{i}" for i in range(machines)]),
    )


def tiny_config(**overrides: object) -> RulConfig:
    """A model of a few units trained for two epochs: seconds, not minutes."""
    base: dict[str, object] = {
        "window": 10,
        "cap": 40.0,
        "horizon": 10.0,
        "epochs": 2,
        "batch_size": 64,
        "patience": 2,
        "folds": 0,
        "learning_rate": 0.01,
        "validation_fraction": 0.25,
        "calibration_fraction": 0.25,
        "architecture": ArchitectureConfig(
            kind="cnn_lstm", conv_filters=4, conv_kernel=3, conv_layers=1, lstm_units=(4,), dense_units=4
        ),
    }
    base.update(overrides)
    return RulConfig(**base)  # type: ignore[arg-type]


def write_cmapss_like(folder: Path, engines: int = 8, seed: int = 0) -> tuple[Path, Path, Path]:
    """train.txt, test.txt (series cut before failure) and RUL.txt in the official 26-column layout."""
    rng = np.random.default_rng(seed)
    train_rows: list[NDArray[np.float64]] = []
    test_rows: list[NDArray[np.float64]] = []
    ruls: list[int] = []
    for unit in range(1, engines + 1):
        for rows, cut in ((train_rows, 0), (test_rows, int(rng.integers(3, 15)))):
            length = int(rng.integers(40, 70))
            series = degrading_series(length, rng)
            sensors = np.tile(series[:, :1], (1, 21)) + rng.normal(0, 0.1, (length, 21))
            sensors[:, 1] = series[:, 1]
            sensors[:, 0] = 518.67  # constant like FD001's s1
            n = length - cut
            rows.append(
                np.column_stack(
                    [np.full(n, unit), np.arange(1, n + 1), np.zeros((n, 2)), np.full(n, 100.0), sensors[:n]]
                )
            )
            if cut:
                ruls.append(cut)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.txt", folder / "test.txt", folder / "RUL.txt"
    np.savetxt(paths[0], np.concatenate(train_rows), fmt="%.4f")
    np.savetxt(paths[1], np.concatenate(test_rows), fmt="%.4f")
    np.savetxt(paths[2], np.asarray(ruls), fmt="%d")
    return paths
