"""Training: runs on tiny data, is reproducible with a seed, reports progress, refuses too little data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from models.config import InsufficientDataError, RulConfig, RulDataset
from models.evaluation import Conformal
from models.run_features import RUN_AGE, add_run_features
from models.training import TrainedRul, TrainingProgress, fold_machines, split_machines, train_rul
from models.windows import Runs, build_windows, last_windows
from tests.models.synthetic import synthetic_dataset, tiny_config


def test_training_returns_a_model_with_metrics_interval_and_history(trained: TrainedRul) -> None:
    assert trained.scaler.dropped == ["constant"]
    assert trained.epochs_run == 2
    assert set(trained.history) >= {"loss", "val_rul_loss", "val_failure_loss"}
    for key in ("rmse", "score", "coverage", "interval_width", "failure_brier"):
        assert np.isfinite(trained.metrics[key]), key
    assert max(trained.conformal.low) <= 0 <= min(trained.conformal.high)
    assert trained.device.endswith("cpu:0") or "gpu" in trained.device
    assert len(trained.healthy) == len(trained.scaler.kept)
    # machines are split, never shared between parts
    parts = [set(trained.split.train), set(trained.split.validation), set(trained.split.calibration)]
    assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_predictions_have_intervals_and_probabilities(trained: TrainedRul) -> None:
    data = synthetic_dataset(machines=3, seed=5)
    pred = trained.predict(last_windows(data.values, data.runs, trained.config.window))
    assert len(pred) == 3
    assert (pred.low <= pred.rul).all() and (pred.rul <= pred.high).all() and (pred.low >= 0).all()
    assert ((pred.failure_probability >= 0) & (pred.failure_probability <= 1)).all()


def test_same_seed_same_model_other_seed_other_model(trained: TrainedRul) -> None:
    data = synthetic_dataset(machines=3, seed=5)
    windows = last_windows(data.values, data.runs, trained.config.window)
    again = train_rul(synthetic_dataset(), tiny_config())
    np.testing.assert_allclose(again.predict(windows).rul, trained.predict(windows).rul, rtol=1e-5, atol=1e-4)
    other = train_rul(synthetic_dataset(), tiny_config(seed=7, epochs=1))
    assert not np.allclose(other.predict(windows).rul, trained.predict(windows).rul, atol=1e-3)


def test_progress_hook_sees_every_epoch_and_can_stop_training() -> None:
    seen: list[TrainingProgress] = []
    model = train_rul(
        synthetic_dataset(),
        tiny_config(epochs=5, patience=10),
        progress=seen.append,
        should_stop=lambda: True,
    )
    assert [p.epoch for p in seen] == [1] and seen[0].epochs == 5
    assert np.isfinite(seen[0].val_loss) and seen[0].best_val_loss == seen[0].val_loss
    assert model.epochs_run == 1


def test_censored_runs_train_without_being_counted_as_failures() -> None:
    data = synthetic_dataset(machines=8)
    failed = np.array([True] * 6 + [False] * 2)
    censored = RulDataset(data.values, data.sensor_names, Runs.of(data.runs.lengths, failed), data.machines)
    model = train_rul(censored, tiny_config(epochs=1))
    assert np.isfinite(model.metrics["rmse"])


def test_the_plateau_schedule_lowers_the_learning_rate_when_validation_stalls() -> None:
    config = tiny_config(epochs=6, patience=10, lr_schedule="plateau", plateau_patience=1, learning_rate=0.5)
    model = train_rul(synthetic_dataset(), config)
    rates = model.history["learning_rate"]
    assert rates[0] == pytest.approx(0.5) and min(rates) < 0.5
    assert RulConfig.from_dict(config.to_dict()) == config


def test_train_max_rul_leaves_windows_far_from_failure_out_of_the_loss_and_the_interval() -> None:
    config = tiny_config(train_max_rul=20.0, interval_max_rul=25.0)
    model = train_rul(synthetic_dataset(), config)
    data = synthetic_dataset()
    # calibration: the windows of the calibration machines at most 25 cycles from failure
    cal_runs = np.isin(data.machines, model.split.calibration)
    assert model.conformal.n_calibration == 26 * int(cal_runs.sum())
    assert model.metrics["n"] == 21 * len(model.split.validation)  # validated on RUL <= 20 only


def test_min_history_adds_padded_windows_to_training_and_the_interval_not_to_the_metrics() -> None:
    data = synthetic_dataset()
    model = train_rul(data, tiny_config(min_history=4))  # window 10: six more windows per run
    lengths = dict(zip(data.machines, data.runs.lengths, strict=True))
    # the interval is calibrated on padded windows too, since they are scored
    assert model.conformal.n_calibration == sum(lengths[m] - 3 for m in model.split.calibration)
    # the reported metrics stay those of full windows, comparable with a model trained without
    assert model.metrics["n"] == sum(lengths[m] - 9 for m in model.split.validation)
    assert model.config.min_history == 4


def test_the_interval_is_calibrated_one_calibration_machine_at_a_time() -> None:
    data = synthetic_dataset(machines=12)
    config = tiny_config(calibration_fraction=0.3, validation_fraction=0.2)
    model = train_rul(data, config)
    w = build_windows(data.values, data.runs, config.window, config.cap)
    machine = np.asarray(data.machines)[w.run]
    cal = np.isin(machine, model.split.calibration) & ~np.isnan(w.rul)
    assert len(model.split.calibration) >= 3
    expected = Conformal.calibrate(
        w.rul[cal], model.predict(w.x[cal]).rul, config.coverage, config.interval_bins, groups=machine[cal]
    )
    assert model.conformal.level == expected.level > config.coverage
    np.testing.assert_allclose(model.conformal.high, expected.high, atol=1e-3)


def test_too_little_data_is_a_clear_error() -> None:
    data = synthetic_dataset(machines=8)
    two_failures = RulDataset(
        data.values, data.sensor_names, Runs.of(data.runs.lengths, [True] * 2 + [False] * 6), data.machines
    )
    with pytest.raises(InsufficientDataError, match="2 run\\(s\\) ended in failure; at least 3"):
        train_rul(two_failures, tiny_config())
    with pytest.raises(InsufficientDataError, match="machines are too few"):
        split_machines(np.array(["a", "b"]), RulConfig())
    with pytest.raises(InsufficientDataError, match="no labelled 80-step window"):
        train_rul(data, tiny_config(window=80))


def test_split_is_by_machine_and_seeded() -> None:
    machines = np.array([f"m{i}" for i in range(20)] * 2)  # two runs per machine
    a, b = split_machines(machines, RulConfig(seed=1)), split_machines(machines, RulConfig(seed=1))
    assert a == b
    assert (len(a.train), len(a.validation), len(a.calibration)) == (14, 3, 3)
    assert split_machines(machines, RulConfig(seed=2)) != a
    assert split_machines(machines, RulConfig(calibration_fraction=0)).calibration == []


def test_an_ensemble_is_served_as_one_model_averaging_its_members(tmp_path: Path) -> None:
    seen: list[TrainingProgress] = []
    config = tiny_config(ensemble=2, epochs=1)
    model = train_rul(synthetic_dataset(), config, progress=seen.append)
    assert [(p.member, p.members) for p in seen] == [(0, 2), (1, 2)]
    assert "member1/val_rul_loss" in model.history
    x = np.random.default_rng(0).random((4, config.window, len(model.scaler.kept)), dtype=np.float32)
    assert {layer.name for layer in model.model.layers} >= {"m0_lstm0", "m1_lstm0"}
    assert model.model.get_layer("m1_lstm0").get_weights()[0].shape == (4, 16)
    heads = keras.Model(model.model.input, [model.model.get_layer(f"m{i}_rul_cycles").output for i in (0, 1)])
    each = [keras.ops.convert_to_numpy(h) for h in heads(x)]
    assert not np.allclose(each[0], each[1])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.model(x)["rul"]), np.mean(each, axis=0), rtol=1e-5
    )
    assert_served_like_keras(model, tmp_path)


def test_cross_fitting_holds_every_machine_out_once_and_calibrates_on_all_of_them() -> None:
    seen: list[TrainingProgress] = []
    model = train_rul(synthetic_dataset(machines=6), tiny_config(folds=3, epochs=1), progress=seen.append)
    folds = model.split.folds
    every = sorted(m for fold in folds for m in fold)
    assert len(folds) == 3 and every == sorted(model.split.train) == [f"m{i}" for i in range(6)]
    assert [(p.member, p.members) for p in seen] == [(0, 3), (1, 3), (2, 3)]
    assert {layer.name for layer in model.model.layers} >= {"m0_dense", "m1_dense", "m2_dense"}
    labelled_windows = sum(
        max(0, n - model.config.window + 1) for n in synthetic_dataset(machines=6).runs.lengths
    )
    assert model.conformal.n_calibration == labelled_windows  # every machine's out-of-fold residuals
    assert model.conformal.level > model.config.coverage  # raised: a machine's residuals go together
    for key in ("rmse", "score", "coverage", "interval_width", "failure_brier"):
        assert np.isfinite(model.metrics[key]), key
    with pytest.raises(InterruptedError, match="stopped on request"):
        train_rul(synthetic_dataset(machines=6), tiny_config(folds=3, epochs=1), should_stop=lambda: True)
    with pytest.raises(InsufficientDataError, match="too few for 4-fold"):
        fold_machines(np.array(["a", "b", "c"]), RulConfig(folds=4))


def test_time_pooling_shortens_what_the_lstm_reads_and_serves_the_same(tmp_path: Path) -> None:
    config = tiny_config(epochs=1)
    config = replace(config, architecture=replace(config.architecture, time_pool=3))
    model = train_rul(synthetic_dataset(), config)
    assert model.model.get_layer("time_pool").output.shape[1] == 4  # ceil(10 / 3) steps
    assert_served_like_keras(model, tmp_path)


def test_run_features_are_inputs_the_model_names_and_serves_the_same(tmp_path: Path) -> None:
    model = train_rul(synthetic_dataset(), tiny_config(epochs=1, run_age=True, run_baseline=5))
    assert model.scaler.kept_names[-1] == RUN_AGE
    assert "temp_drift" in model.scaler.kept_names
    assert "constant_drift" in model.scaler.dropped  # a constant sensor drifts by nothing
    assert_served_like_keras(model, tmp_path)


def assert_served_like_keras(model: TrainedRul, directory: Path) -> None:
    """Saved and reloaded, ONNX Runtime predicts what the Keras model predicts."""
    from models.artifacts import save_rul_artifacts
    from models.serving import RulPredictor

    save_rul_artifacts(model, directory)
    data = synthetic_dataset(machines=3, seed=5)
    config = model.config
    series = add_run_features(data.values, data.runs, config)
    windows = last_windows(series, data.runs, config.window)
    np.testing.assert_allclose(
        RulPredictor.load(directory).predict(windows).rul, model.predict(windows).rul, rtol=1e-4, atol=1e-3
    )
