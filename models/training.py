"""Training a RUL model: machine split, features, windows, fit with early stopping, conformal interval.

Machines (never rows or windows) are held out, in one of two ways (`RulConfig.folds`):

- folds >= 2: cross-fitting. Machines are dealt into `folds` groups; member k trains on the
  other groups and early-stops on group k, so every machine gets an out-of-fold prediction from a
  member that never saw it. The served model averages the members. The conformal interval is
  calibrated on all out-of-fold residuals, and the reported metrics are out-of-fold too (coverage and
  width cross-fitted: fold k's interval is calibrated on the other folds only). Every machine serves
  for training, stopping and calibration, which matters when failures are few.
- folds = 0 (default): one split into training, validation (early stopping and the reported metrics) and
  calibration machines (the interval, so that the coverage reported on the validation machines is
  measured on data it never saw); `ensemble` members then differ only by their seed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from numpy.typing import NDArray

from models.config import InsufficientDataError, RulConfig, RulDataset
from models.evaluation import Conformal, interval_truth, rul_metrics
from models.features import FeatureScaler, fill_gaps, require_complete
from models.fitting import TrainingProgress, fit_member, subset
from models.prediction import RulPrediction, prepare_windows
from models.rul import FAILURE_OUTPUT, RUL_OUTPUT, detect_device, ensemble_model
from models.run_features import with_run_features
from models.windows import Windows, build_windows, near_failure_only, row_targets, unpadded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MachineSplit:
    train: list[str]
    validation: list[str]
    calibration: list[str]  # empty when the validation machines also calibrate the interval
    folds: list[list[str]] = field(default_factory=list)  # cross-fitting: every machine is in train


@dataclass
class TrainedRul:
    """A trained model with everything serving needs (scaler, interval) and how it was obtained."""

    model: keras.Model
    scaler: FeatureScaler
    conformal: Conformal
    config: RulConfig
    metrics: dict[str, float]
    history: dict[str, list[float]]
    split: MachineSplit
    device: str
    train_seconds: float
    epochs_run: int
    healthy: list[float]  # mean scaled value of each kept sensor while healthy (RUL at the cap)

    def predict(self, raw_windows: NDArray[np.floating], batch_size: int = 1024) -> RulPrediction:
        """Score raw windows [N, window, all sensors] with the Keras model."""
        x = prepare_windows(raw_windows, self.scaler, self.config.window)
        return predict_scaled(self.model, x, self.conformal, batch_size)


def predict_scaled(
    model: keras.Model, x: NDArray[np.float32], conformal: Conformal, batch_size: int = 1024
) -> RulPrediction:
    out = (
        model.predict(x, batch_size=batch_size, verbose=0)
        if len(x) > batch_size
        else model(x, training=False)
    )
    rul = np.maximum(keras.ops.convert_to_numpy(out[RUL_OUTPUT]).reshape(-1).astype(np.float64), 0.0)
    prob = keras.ops.convert_to_numpy(out[FAILURE_OUTPUT]).reshape(-1).astype(np.float64)
    low, high = conformal.interval(rul)
    return RulPrediction(rul=rul, low=low, high=high, failure_probability=prob)


def split_machines(machines: NDArray[Any], config: RulConfig) -> MachineSplit:
    """Shuffle the distinct machines with the seed and cut them into training/validation/calibration."""
    names = sorted({str(m) for m in machines})
    order = np.random.default_rng(config.seed).permutation(len(names))
    shuffled = [names[i] for i in order]
    n_val = max(1, round(config.validation_fraction * len(names)))
    n_cal = max(1, round(config.calibration_fraction * len(names))) if config.calibration_fraction > 0 else 0
    if len(names) - n_val - n_cal < 1:
        raise InsufficientDataError(
            f"{len(names)} machines are too few to hold out {n_val} for validation and {n_cal} for "
            "calibration and still train on one"
        )
    return MachineSplit(
        train=shuffled[n_val + n_cal :],
        validation=shuffled[:n_val],
        calibration=shuffled[n_val : n_val + n_cal],
    )


def fold_machines(machines: NDArray[Any], config: RulConfig) -> MachineSplit:
    """Shuffle the distinct machines with the seed and deal them into `config.folds` groups."""
    names = sorted({str(m) for m in machines})
    if len(names) < max(config.folds, 2):
        raise InsufficientDataError(
            f"{len(names)} machines are too few for {config.folds}-fold cross-fitting"
        )
    order = np.random.default_rng(config.seed).permutation(len(names))
    folds = [sorted(names[i] for i in order[k :: config.folds]) for k in range(config.folds)]
    return MachineSplit(train=names, validation=[], calibration=[], folds=folds)


def train_rul(
    dataset: RulDataset,
    config: RulConfig,
    progress: Callable[[TrainingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainedRul:
    """Train, evaluate on held-out machines and calibrate the interval. Raises InsufficientDataError."""
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    n_failed = int(dataset.runs.failed.sum())
    if n_failed < config.min_failed_runs:
        raise InsufficientDataError(
            f"{n_failed} run(s) ended in failure; at least {config.min_failed_runs} are needed to learn RUL"
        )
    dataset = with_run_features(dataset, config)
    split = (
        fold_machines(dataset.machines, config)
        if config.folds >= 2
        else split_machines(dataset.machines, config)
    )
    run_machine = np.asarray([str(m) for m in dataset.machines])

    filled = fill_gaps(dataset.values, dataset.runs)
    train_rows = np.isin(run_machine, split.train)[dataset.runs.run_of_row()]
    scaler = FeatureScaler.fit(filled[train_rows], dataset.sensor_names)
    log.info("sensors used: %s; dropped: %s", scaler.kept_names, scaler.dropped or "none")
    kept = filled[:, scaler.kept]
    require_complete(kept, dataset.runs, scaler.kept_names)
    scaled = scaler.transform_kept(kept)
    healthy = _healthy_reference(scaled, train_rows, row_targets(dataset.runs, config.cap)[0], config.cap)
    windows = build_windows(scaled, dataset.runs, config.window, config.cap, config.horizon,
                            min_history=config.min_history or None)  # fmt: skip
    windows = near_failure_only(windows, dataset.runs, config.train_max_rul)
    known = ~np.isnan(windows.rul) | ~np.isnan(windows.fails_within)
    windows = subset(windows, known)
    machine_of = run_machine[windows.run]
    device = detect_device()

    def part(machines: list[str], stride: int = 1) -> Windows:
        w = subset(windows, np.isin(machine_of, machines))
        return subset(w, np.arange(len(w.rul)) % stride == 0) if stride > 1 else w

    members: list[keras.Model] = []
    history: dict[str, list[float]] = {}
    if split.folds:
        oof = np.full(len(windows.rul), np.nan)
        oof_prob = np.full(len(windows.rul), np.nan)
        for k, fold in enumerate(split.folds):
            others = [m for m in split.train if m not in set(fold)]
            held = part(fold)
            _check_labelled(config, ("training", part(others)), (f"fold {k + 1}", held))
            model, hist = fit_member(part(others, config.stride), held, config, device, k, len(split.folds),
                                     progress, should_stop)  # fmt: skip
            raw = predict_scaled(model, held.x, Conformal.none(config.coverage))
            oof[np.isin(machine_of, fold)], oof_prob[np.isin(machine_of, fold)] = (
                raw.rul,
                raw.failure_probability,
            )
            history.update({(f"member{k}/" if k else "") + key: v for key, v in hist.items()})
            members.append(model)
            if should_stop is not None and should_stop():
                raise InterruptedError("training stopped on request before every fold was trained")
        truth = interval_truth(dataset.runs, windows, config.interval_max_rul)
        conformal = Conformal.calibrate(truth, oof, config.coverage, config.interval_bins, groups=machine_of)
        full = unpadded(windows, dataset.runs, config.window)
        metrics = _crossfit_metrics(subset(windows, full), oof[full], oof_prob[full], machine_of[full],
                                    split.folds, config)  # fmt: skip
    else:
        train, val = part(split.train, config.stride), part(split.validation)
        cal = part(split.calibration or split.validation)
        _check_labelled(config, ("training", train), ("validation", val), ("calibration", cal))
        for member in range(config.ensemble):
            model, hist = fit_member(
                train, val, config, device, member, config.ensemble, progress, should_stop
            )
            history.update({(f"member{member}/" if member else "") + key: v for key, v in hist.items()})
            members.append(model)
            if should_stop is not None and should_stop():
                break
    if len(members) > 1:
        model = ensemble_model(members, config.architecture, config.window, len(scaler.kept), config.cap)
    else:
        model = members[0]
    if not split.folds:
        cal_truth = interval_truth(dataset.runs, cal, config.interval_max_rul)
        labelled = ~np.isnan(cal_truth)
        cal_pred = predict_scaled(model, cal.x[labelled], Conformal.none(config.coverage))
        cal_machines = run_machine[cal.run][labelled]
        conformal = Conformal.calibrate(cal_truth[labelled], cal_pred.rul, config.coverage,
                                        config.interval_bins, groups=cal_machines)  # fmt: skip
        # Metrics on full windows only, comparable with a model trained without `min_history`.
        val = subset(val, unpadded(val, dataset.runs, config.window))
        labelled = ~np.isnan(val.rul)
        metrics = rul_metrics(
            val.rul[labelled], predict_scaled(model, val.x[labelled], conformal).rul, conformal
        )
        metrics.update(_failure_metrics(model, val, conformal))
    seconds = time.perf_counter() - started
    log.info("trained in %.1f s: %s", seconds, {k: round(v, 3) for k, v in metrics.items()})
    return TrainedRul(
        model=model,
        scaler=scaler,
        conformal=conformal,
        config=config,
        metrics=metrics,
        history=history,
        split=split,
        device=device.describe(),
        train_seconds=seconds,
        epochs_run=len(history.get("loss", [])),
        healthy=healthy,
    )


def _check_labelled(config: RulConfig, *parts: tuple[str, Windows]) -> None:
    for name, w in parts:
        if np.isnan(w.rul).all():
            raise InsufficientDataError(f"no labelled {config.window}-step window on the {name} machines")


def _crossfit_metrics(
    windows: Windows,
    oof: NDArray[np.float64],
    oof_prob: NDArray[np.float64],
    machine_of: NDArray[Any],
    folds: list[list[str]],
    config: RulConfig,
) -> dict[str, float]:
    """Out-of-fold error; coverage and width of intervals calibrated without the fold they cover."""
    labelled = ~np.isnan(windows.rul)
    metrics = rul_metrics(windows.rul[labelled], np.maximum(oof[labelled], 0.0), None)
    inside = width = 0.0
    for fold in folds:
        mine = np.isin(machine_of, fold) & labelled
        rest = ~mine & labelled
        c = Conformal.calibrate(windows.rul[rest], oof[rest], config.coverage, config.interval_bins,
                                groups=machine_of[rest])  # fmt: skip
        low, high = c.interval(np.maximum(oof[mine], 0.0))
        inside += float(np.sum((windows.rul[mine] >= low) & (windows.rul[mine] <= high)))
        width += float(np.sum(high - low))
    metrics["coverage"], metrics["interval_width"] = inside / labelled.sum(), width / labelled.sum()
    known = ~np.isnan(windows.fails_within)
    if known.any():
        metrics["failure_brier"] = float(np.mean((oof_prob[known] - windows.fails_within[known]) ** 2))
    return metrics


def _failure_metrics(model: keras.Model, val: Windows, conformal: Conformal) -> dict[str, float]:
    known = ~np.isnan(val.fails_within)
    if not known.any():
        return {}
    prob = predict_scaled(model, val.x[known], conformal).failure_probability
    return {"failure_brier": float(np.mean((prob - val.fails_within[known]) ** 2))}


def _healthy_reference(
    scaled: NDArray[np.float32], train_rows: NDArray[np.bool_], rul: NDArray[np.float32], cap: float
) -> list[float]:
    """Per-sensor mean of training rows at the capped RUL (all training rows if there are none)."""
    rows = train_rows & (rul >= cap)
    if not rows.any():
        rows = train_rows
    return [float(v) for v in scaled[rows].mean(axis=0)]
