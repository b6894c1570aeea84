"""The health index learned from normal operation: healthy windows score high, drifting ones low."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import InsufficientDataError
from models.health import HealthBaseline
from models.windows import Runs

NAMES = ["temp", "vib", "flat"]


def _runs(n_runs: int = 4, length: int = 100, seed: int = 0) -> tuple[np.ndarray, Runs]:
    """Each run: 60 healthy steps, then `vib` drifts upwards; `flat` is constant (dropped)."""
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(n_runs):
        drift = np.clip(np.arange(length) - 60, 0, None) / 10.0
        blocks.append(
            np.column_stack(
                [50 + rng.normal(size=length), 1 + 0.1 * rng.normal(size=length) + drift, np.ones(length)]
            )
        )
    return np.concatenate(blocks), Runs.of([length] * n_runs, [True] * n_runs)


def test_healthy_windows_score_high_and_drifting_ones_low_naming_the_drifting_sensor() -> None:
    values, runs = _runs()
    baseline = HealthBaseline.fit(values, runs, NAMES, window=10)
    assert baseline.kept_names == ["temp", "vib"]  # the constant sensor is dropped
    fresh, _ = _runs(n_runs=1, seed=1)  # a machine never seen in fitting
    healthy = baseline.score(np.stack([fresh[i : i + 10] for i in range(0, 50, 10)]))
    assert healthy.score.min() > 50 and np.median(healthy.score) > 80
    worn = baseline.score(fresh[None, -10:])
    assert worn.score[0] == 0.0
    assert worn.top_sensors[0][0].sensor == "vib" and worn.top_sensors[0][0].score > 3
    # Scores fall as the drift grows.
    later = baseline.score(np.stack([fresh[i - 10 : i] for i in (62, 66, 70)])).score
    assert later[0] >= later[1] >= later[2]


def test_missing_values_are_ignored_and_short_windows_are_scored() -> None:
    values, runs = _runs()
    baseline = HealthBaseline.fit(values, runs, NAMES, window=10)
    window = values[:10].copy()
    window[:, 0] = np.nan  # temp absent: judged on vib alone
    scored = baseline.score(window[None, :3])
    assert np.isfinite(scored.score[0]) and [c.sensor for c in scored.top_sensors[0]] == ["vib"]
    with pytest.raises(ValueError, match="expected windows"):
        baseline.score(values[None, :10, :2])


def test_too_little_healthy_data_is_refused_with_the_reason() -> None:
    values, runs = _runs(n_runs=1, length=24)
    with pytest.raises(InsufficientDataError, match="at least 10"):
        HealthBaseline.fit(values, runs, NAMES, window=10)
    with pytest.raises(InsufficientDataError, match="constant or dead"):
        HealthBaseline.fit(np.ones((200, 3)), Runs.of([200]), NAMES, window=10)


def test_the_baseline_round_trips_through_json_and_refuses_inconsistent_descriptions() -> None:
    values, runs = _runs()
    baseline = HealthBaseline.fit(values, runs, NAMES, window=10)
    again = HealthBaseline.from_dict(baseline.to_dict())
    assert again == baseline
    broken = {**baseline.to_dict(), "mean": [1.0]}
    with pytest.raises(ValueError, match="inconsistent"):
        HealthBaseline.from_dict(broken)
