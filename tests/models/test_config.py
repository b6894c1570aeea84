"""RulConfig: overrides merged on the defaults, and the round trip through a plain dict."""

from __future__ import annotations

import pytest

from models.config import ArchitectureConfig, RulConfig


def test_overrides_apply_in_turn_and_the_architecture_key_by_key() -> None:
    config = RulConfig.merged(
        {"window": 70, "ensemble": 3, "architecture": {"conv_layers": 3, "dropout": 0.3}},
        {"ensemble": 1, "architecture": {"dropout": 0.1}},
    )
    assert (config.window, config.ensemble) == (70, 1)
    assert config.architecture == ArchitectureConfig(conv_layers=3, dropout=0.1)
    assert RulConfig.merged() == RulConfig()


def test_a_config_survives_the_round_trip_through_a_dict() -> None:
    config = RulConfig(window=50, architecture=ArchitectureConfig(lstm_units=(8, 4), tcn_dilations=(1, 3)))
    assert RulConfig.from_dict(config.to_dict()) == config


def test_a_time_pool_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="time_pool must be at least 1"):
        RulConfig.merged({"architecture": {"time_pool": 0}})


@pytest.mark.parametrize("min_history", [-1, 31])
def test_a_min_history_outside_the_window_is_refused(min_history: int) -> None:
    with pytest.raises(ValueError, match=r"min_history must lie between 0 \(off\) and the window \(30\)"):
        RulConfig(window=30, min_history=min_history)
