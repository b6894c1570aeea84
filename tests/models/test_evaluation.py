"""Error measures and the split-conformal interval on toy cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.evaluation import Conformal, interval_quality, interval_truth, phm08_score, rmse, rul_metrics
from models.windows import Runs, build_windows


def test_rmse_and_phm08_score_by_hand() -> None:
    assert rmse([10, 20], [13, 16]) == pytest.approx(math.sqrt((9 + 16) / 2))
    # late by 10 costs e^1 - 1, early by 13 costs e^1 - 1 too: the asymmetry of the PHM08 score
    assert phm08_score([50, 50], [60, 37]) == pytest.approx(2 * (math.e - 1))
    assert phm08_score([5], [5]) == 0.0


def test_conformal_offsets_are_the_finite_sample_quantiles() -> None:
    # residuals truth - prediction = -9..10 (n = 20); 90% => each side at 5%: k = ceil(21 * 0.95) = 20
    truth = np.arange(20, dtype=float)
    predicted = truth - np.arange(-9, 11)
    c = Conformal.calibrate(truth, predicted, coverage=0.9)
    assert (c.low, c.high, c.n_calibration) == ((-9.0,), (10.0,), 20)
    # 80%: k = ceil(21 * 0.9) = 19 -> 19th smallest (9) and 19th largest (-8)
    c80 = Conformal.calibrate(truth, predicted, coverage=0.8)
    assert (c80.low, c80.high) == ((-8.0,), (9.0,))
    biased = Conformal.calibrate(truth, truth - 5 - np.arange(20), coverage=0.9)
    assert (biased.low, biased.high) == ((0.0,), (24.0,))  # widened to contain the prediction itself
    low, high = c80.interval([5.0, 100.0])
    np.testing.assert_array_equal(low, [0.0, 92.0])  # clipped at zero
    np.testing.assert_array_equal(high, [14.0, 109.0])


def test_conformal_ignores_unknown_labels_and_refuses_too_few() -> None:
    truth = np.array([1.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="too few"):
        Conformal.calibrate(truth, np.zeros(3), coverage=0.9)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Conformal.calibrate(np.zeros(100), np.zeros(100), coverage=1.5)


def test_coverage_and_width_are_counted_on_the_held_out_points() -> None:
    coverage, width = interval_quality([1, 5, 10, 20], [0, 6, 10, 0], [2, 8, 12, 10])
    assert coverage == 0.5  # 1 in [0,2], 5 not in [6,8], 10 in [10,12], 20 not in [0,10]
    assert width == 4.0  # (2 + 2 + 2 + 10) / 4


def test_conformal_covers_about_the_nominal_share_of_new_exchangeable_data() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 100, 4000)
    predicted = truth + rng.normal(0, 10, 4000)
    c = Conformal.calibrate(truth[:2000], predicted[:2000], coverage=0.9)
    m = rul_metrics(truth[2000:], predicted[2000:], c)
    assert 0.87 <= m["coverage"] <= 0.93
    assert m["interval_width"] == pytest.approx(2 * 1.645 * 10, rel=0.1)


def test_mondrian_bins_give_each_life_stage_its_own_offsets() -> None:
    rng = np.random.default_rng(1)
    predicted = rng.uniform(0, 100, 6000)
    truth = predicted + rng.normal(0, 1 + predicted / 10, 6000)  # errors grow with the prediction
    c = Conformal.calibrate(truth[:3000], predicted[:3000], coverage=0.9, bins=4)
    assert len(c.edges) == 3 and len(c.low) == len(c.high) == 4
    assert c.high[0] < c.high[-1] and c.low[0] > c.low[-1]
    low, high = c.interval(predicted[3000:])
    for part in (predicted[3000:] < c.edges[0], predicted[3000:] >= c.edges[-1]):
        coverage, _ = interval_quality(truth[3000:][part], low[part], high[part])
        assert 0.86 <= coverage <= 0.94
    assert Conformal.from_dict(c.to_dict()) == c
    # too few points for four bins of 50: fewer bins
    assert len(Conformal.calibrate(truth[:120], predicted[:120], bins=4).low) == 2


def _clustered_residuals(rng: np.random.Generator, groups: int, per_group: int) -> np.ndarray:
    """Each group (a machine) shifted by its own offset: residuals correlated within a group."""
    return np.repeat(rng.normal(0, 5, groups), per_group) + rng.normal(0, 1, groups * per_group)


def test_grouped_calibration_raises_the_level_until_new_groups_are_covered() -> None:
    rng = np.random.default_rng(2)
    plain: list[float] = []
    grouped: list[float] = []
    levels: list[float] = []
    for _ in range(40):
        residual = _clustered_residuals(rng, groups=12, per_group=60)
        groups = np.repeat(np.arange(12), 60)
        new = _clustered_residuals(rng, groups=400, per_group=1)  # one draw per new machine
        by_group = Conformal.calibrate(50.0 + residual, np.full(720, 50.0), coverage=0.9, groups=groups)
        for calibrated, out in (
            (Conformal.calibrate(50.0 + residual, np.full(720, 50.0), coverage=0.9), plain),
            (by_group, grouped),
        ):
            low, high = calibrated.interval(np.full(400, 50.0))
            out.append(interval_quality(50.0 + new, low, high)[0])
        levels.append(by_group.level)
    # a dozen machines are a dozen draws: the nominal level covers new machines too rarely
    assert np.mean(plain) < 0.87
    assert np.mean(grouped) > np.mean(plain) + 0.03 and 0.87 <= np.mean(grouped) <= 0.94
    assert min(levels) >= 0.9 and max(levels) <= 0.99


def test_grouped_calibration_keeps_the_level_for_independent_residuals_or_too_few_groups() -> None:
    rng = np.random.default_rng(3)
    truth, predicted = 50.0 + rng.normal(0, 1, 2000), np.full(2000, 50.0)
    independent = Conformal.calibrate(truth, predicted, groups=np.arange(2000) % 20)
    assert independent.level < 0.92  # no clustering to correct for
    # two machines, however different, are too few to judge one by the other
    clustered = 50.0 + _clustered_residuals(rng, groups=2, per_group=1000)
    two = Conformal.calibrate(clustered, predicted, groups=np.repeat([0, 1], 1000))
    assert two.level == 0.9 and two == Conformal.calibrate(clustered, predicted)
    old = {k: v for k, v in two.to_dict().items() if k != "level"}  # an artifact saved before `level`
    assert Conformal.from_dict(old) == two


def test_tied_predictions_leave_no_bin_empty() -> None:
    predicted = np.concatenate([np.zeros(300), np.linspace(1, 100, 100)])  # a floor of zeros
    c = Conformal.calibrate(predicted + 1.0, predicted, bins=5, groups=np.arange(400) % 4)
    assert len(c.low) == len(c.edges) + 1 >= 2 and c.edges[0] > 0  # the zeros form one bin


def test_interval_truth_is_the_uncapped_rul_of_failed_runs_up_to_a_limit() -> None:
    runs = Runs.of([12, 12], failed=[True, False])  # the second run is censored
    w = build_windows(np.zeros((24, 1)), runs, window=2, cap=5.0)
    assert interval_truth(runs, w, None) is w.rul  # the capped training label
    truth = interval_truth(runs, w, 8.0)
    failed = w.run == 0
    # window ends at rows 1..11 of the failed run: true RUL 10..0, kept up to 8
    np.testing.assert_array_equal(truth[failed], [np.nan, np.nan, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    assert np.isnan(truth[~failed]).all()  # a censored run's true RUL is unknown
