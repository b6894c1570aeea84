"""Configuration and input of RUL training: plain dataclasses the callers fill in (no settings here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from models.windows import DEFAULT_CAP, Runs

ArchitectureKind = Literal["lstm", "cnn_lstm", "tcn"]
LrSchedule = Literal["constant", "plateau"]


class InsufficientDataError(ValueError):
    """Too little labelled data (machines, failures or windows) to train or to evaluate a model."""


@dataclass(frozen=True)
class ArchitectureConfig:
    """The network: stacked LSTM, convolutions then LSTM, or a dilated temporal convolution (TCN)."""

    kind: ArchitectureKind = "cnn_lstm"
    conv_filters: int = 32
    conv_kernel: int = 5
    conv_layers: int = 2
    # cnn_lstm: max-pool the convolutions' output over this many steps, so that the LSTMs (most of the
    # scoring cost) read a sequence that much shorter
    time_pool: int = 1
    lstm_units: tuple[int, ...] = (64, 32)
    tcn_dilations: tuple[int, ...] = (1, 2, 4, 8)
    dense_units: int = 32
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if self.time_pool < 1:
            raise ValueError(f"time_pool must be at least 1 (1: no pooling), not {self.time_pool}")


@dataclass(frozen=True)
class RulConfig:
    """Everything `train_rul` needs to know besides the data. Cycles are the data's own time steps."""

    window: int = 30
    cap: float = DEFAULT_CAP  # piecewise-linear RUL target: min(true RUL, cap)
    horizon: float = 30.0  # failure-probability horizon
    coverage: float = 0.90  # of the prediction interval
    interval_bins: int = 5  # Mondrian conformal: offsets per bin of predicted RUL
    # Weigh life stages like machines scored in their last `train_max_rul` cycles: windows farther from
    # failure (and censored runs' windows) take no part in the RUL loss. None: every labelled window.
    train_max_rul: float | None = None
    interval_max_rul: float | None = None  # calibrate on true RUL <= this (evaluation.interval_truth)
    architecture: ArchitectureConfig = field(default_factory=ArchitectureConfig)
    epochs: int = 60
    batch_size: int = 256  # on CPU
    gpu_batch_size: int = 1024  # on a GPU (learning rate scaled by the square root of the ratio)
    learning_rate: float = 1e-3
    patience: int = 10  # early stopping on the validation machines' loss
    # "plateau": halve the learning rate after `plateau_patience` epochs without a better validation loss
    lr_schedule: LrSchedule = "constant"
    plateau_patience: int = 4
    folds: int = 0  # >= 2: cross-fitted ensemble of `folds` members (see models.training); 0: one split
    validation_fraction: float = 0.15  # folds = 0: machines for early stopping and the reported metrics
    calibration_fraction: float = 0.15  # folds = 0: machines for the interval (0: reuse validation)
    failure_loss_weight: float = 0.2
    stride: int = 1  # keep every stride-th training window
    # Also learn from windows ending after this many rows of their run, padded with its first row as
    # scoring pads a short history (0: full windows only).
    min_history: int = 0
    # Derived inputs (models.run_features): the cycle number within the run, and each sensor's drift
    # from the mean of its run's first `run_baseline` rows (0: off). Only where runs start at a known point.
    run_age: bool = False
    run_baseline: int = 0
    ensemble: int = 1  # folds = 0: members trained with seeds seed, seed+1, ...; served averaged
    seed: int = 42
    mixed_precision: bool = True  # used only on a GPU
    min_failed_runs: int = 3

    def __post_init__(self) -> None:
        if (
            isinstance(self.run_baseline, bool)
            or not isinstance(self.run_baseline, int)
            or self.run_baseline < 0
        ):
            raise ValueError(f"run_baseline must be 0 (off) or a number of rows, not {self.run_baseline}")
        if not 0 <= self.min_history <= self.window:
            raise ValueError(f"min_history must lie between 0 (off) and the window ({self.window})")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["architecture"]["lstm_units"] = list(self.architecture.lstm_units)
        data["architecture"]["tcn_dilations"] = list(self.architecture.tcn_dilations)
        return data

    @classmethod
    def merged(cls, *overrides: dict[str, Any]) -> RulConfig:
        """The defaults updated by each mapping in turn; `architecture` is updated key by key."""
        data = cls().to_dict()
        for override in overrides:
            arch = {**data["architecture"], **override.get("architecture", {})}
            data = {**data, **override, "architecture": arch}
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RulConfig:
        arch = dict(data.get("architecture", {}))
        for key in ("lstm_units", "tcn_dilations"):
            if key in arch:
                arch[key] = tuple(int(v) for v in arch[key])
        rest = {k: v for k, v in data.items() if k != "architecture"}
        return cls(architecture=ArchitectureConfig(**arch), **rest)


@dataclass(frozen=True)
class RulDataset:
    """Raw sensor rows of one machine type: runs back to back, each belonging to one machine.

    `values` is [T, S] in `sensor_names` order (NaN where a reading is absent); `runs` says where each
    run lies and how it ended; `machines[r]` names the machine of run r (splits are made by machine).
    """

    values: NDArray[np.float64]
    sensor_names: list[str]
    runs: Runs
    machines: NDArray[Any]

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        if values.ndim != 2 or values.shape[1] != len(self.sensor_names):
            raise ValueError(f"values {values.shape} do not match {len(self.sensor_names)} sensor names")
        if values.shape[0] != self.runs.total:
            raise ValueError(f"values has {values.shape[0]} rows but the runs cover {self.runs.total}")
        if len(self.machines) != len(self.runs.lengths):
            raise ValueError("machines needs one entry per run")
        if len(set(self.sensor_names)) != len(self.sensor_names):
            raise ValueError("sensor names must be unique")
