"""Settings that depend on each other are checked together when they load."""

from __future__ import annotations

import pytest

from plantwatch.settings import Settings


def test_a_min_history_above_the_window_setting_is_refused_when_settings_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLANTWATCH_RUL_WINDOW", "20")
    monkeypatch.setenv("PLANTWATCH_RUL_MIN_HISTORY", "25")
    with pytest.raises(ValueError, match=r"PLANTWATCH_RUL_MIN_HISTORY \(25\) must not exceed"):
        Settings()
    monkeypatch.setenv("PLANTWATCH_RUL_MIN_HISTORY", "20")
    assert Settings().rul_min_history == 20
