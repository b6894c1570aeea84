"""Severity decisions with hysteresis (property tests) and which thresholds apply to a machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.tables import AlertRule
from plantwatch.settings import Settings
from services.alert_engine import RuleState, advance
from services.alert_rules import (
    Thresholds,
    default_thresholds,
    effective_thresholds,
    prediction_severity,
    severity_for,
)

RUL = Thresholds(True, warning=50.0, critical=20.0, hysteresis=10.0, min_duration_s=0, source="test")
PROB = Thresholds(True, warning=0.5, critical=0.8, hysteresis=0.1, min_duration_s=0, source="test")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
values = st.floats(min_value=-1000, max_value=1000, allow_nan=False)
severities = st.sampled_from([None, "warning", "critical"])


def _walk(worse: str, thresholds: Thresholds, series: list[float]) -> list[str | None]:
    current: str | None = None
    seen = []
    for value in series:
        current = severity_for(worse, value, thresholds, current)
        seen.append(current)
    return seen


def test_levels_without_history() -> None:
    assert [severity_for("below", v, RUL, None) for v in (100, 50, 21, 20, 0)] == [
        None, "warning", "warning", "critical", "critical",
    ]  # fmt: skip
    assert [severity_for("above", v, PROB, None) for v in (0.1, 0.5, 0.79, 0.8)] == [
        None, "warning", "warning", "critical",
    ]  # fmt: skip


def test_leaving_a_level_needs_the_hysteresis() -> None:
    assert severity_for("below", 55, RUL, "warning") == "warning"  # within 10 of 50
    assert severity_for("below", 61, RUL, "warning") is None
    assert severity_for("below", 25, RUL, "critical") == "critical"  # within 10 of 20
    assert severity_for("below", 31, RUL, "critical") == "warning"
    assert severity_for("below", 61, RUL, "critical") is None
    assert severity_for("above", 0.45, PROB, "warning") == "warning"
    assert severity_for("above", 0.39, PROB, "warning") is None


@given(st.lists(st.floats(min_value=0, max_value=9.99), min_size=1, max_size=60), st.floats(40, 50))
def test_a_value_hovering_within_the_hysteresis_band_changes_the_level_at_most_once(
    offsets: list[float], low: float
) -> None:
    """Any series inside a band narrower than the hysteresis that holds the warning threshold."""
    no_critical = Thresholds(True, 50.0, None, 10.0, 0, "test")
    seen = _walk("below", no_critical, [low + o for o in offsets])
    changes = sum(1 for a, b in zip([None, *seen], seen, strict=False) if a != b)
    assert changes <= 1, seen


@given(values, values, severities)
def test_a_worse_value_never_gives_a_lower_severity(a: float, b: float, current: str | None) -> None:
    rank = {None: 0, "warning": 1, "critical": 2}
    low, high = min(a, b), max(a, b)
    assert rank[severity_for("below", low, RUL, current)] >= rank[severity_for("below", high, RUL, current)]
    assert rank[severity_for("above", high, RUL, current)] >= rank[severity_for("above", low, RUL, current)]


@given(values, severities)
def test_without_hysteresis_history_does_not_matter(value: float, current: str | None) -> None:
    plain = Thresholds(True, 50.0, 20.0, 0.0, 0, "test")
    assert severity_for("below", value, plain, current) == severity_for("below", value, plain, None)


def _row(rule: str, warning: float, line_id: int | None = None, machine_id: int | None = None) -> AlertRule:
    return AlertRule(
        rule=rule, line_id=line_id, machine_id=machine_id, enabled=True, warning=warning, critical=None,
        hysteresis=0.0, min_duration_s=0,
    )  # fmt: skip


def test_the_most_specific_thresholds_apply() -> None:
    settings = Settings(alert_rul_warning=42)
    rows = [_row("rul_low", 30), _row("rul_low", 20, line_id=7), _row("rul_low", 10, machine_id=3),
            _row("failure_probability_high", 0.9)]  # fmt: skip
    assert effective_thresholds(rows, "rul_low", machine_id=3, line_id=7, settings=settings).warning == 10
    assert effective_thresholds(rows, "rul_low", machine_id=4, line_id=7, settings=settings).source == "line"
    assert effective_thresholds(rows, "rul_low", machine_id=4, line_id=8, settings=settings).warning == 30
    assert effective_thresholds([], "rul_low", machine_id=4, line_id=8, settings=settings).warning == 42
    assert default_thresholds("rul_low", settings).source == "default"


targets = st.lists(
    st.tuples(st.sampled_from([None, "warning", "critical"]), st.integers(1, 300)), max_size=40
)


@given(targets)
def test_without_a_wait_the_alert_follows_the_rule(steps: list[tuple[str | None, int]]) -> None:
    state, now = RuleState(), T0
    for target, gap in steps:
        now += timedelta(seconds=gap)
        state, _ = advance(state, target, now, min_duration_s=0)
        assert state.severity == target and state.pending is None


@given(targets, st.integers(60, 900))
def test_an_alert_opens_only_after_its_condition_held_for_the_wait(
    steps: list[tuple[str | None, int]], wait: int
) -> None:
    state, now = RuleState(), T0
    worse_since: datetime | None = None  # since when the rule has called for an alert without pause
    for target, gap in steps:
        now += timedelta(seconds=gap)
        before = state
        state, outcome = advance(state, target, now, min_duration_s=wait)
        worse_since = (worse_since or now) if target is not None else None
        if outcome == "opened":
            assert before.severity is None and worse_since is not None
            assert (now - worse_since).total_seconds() >= wait
        if target is None:
            assert state == RuleState()


DEFAULTS = Settings(alert_rul_warning=50, alert_rul_critical=20, alert_failure_probability_warning=0.5,
                    alert_failure_probability_critical=0.8)  # fmt: skip


@pytest.mark.parametrize(
    ("rul", "probability", "expected"),
    [(20.0, 0.1, "critical"), (20.5, 0.1, "warning"), (50.0, None, "warning"), (50.5, 0.49, "ok"),
     (200.0, 0.8, "critical"), (None, 0.5, "warning"), (None, None, None)],
)  # fmt: skip
def test_a_prediction_is_rated_by_the_worse_of_its_two_rules(
    rul: float | None, probability: float | None, expected: str | None
) -> None:
    assert prediction_severity([], 1, 7, rul, probability, DEFAULTS) == expected


def test_a_prediction_is_rated_by_its_lines_and_its_own_thresholds() -> None:
    line_override = AlertRule(rule="rul_low", line_id=7, machine_id=None, enabled=True, warning=150.0,
                              critical=60.0, hysteresis=0.0, min_duration_s=0)  # fmt: skip
    off_for_machine_2 = AlertRule(rule="failure_probability_high", line_id=None, machine_id=2, enabled=False,
                                  warning=0.5, critical=0.8, hysteresis=0.0, min_duration_s=0)  # fmt: skip
    rows = [line_override, off_for_machine_2]
    assert prediction_severity(rows, 1, 7, 100.0, 0.1, DEFAULTS) == "warning"  # the line's threshold
    assert prediction_severity(rows, 1, 8, 100.0, 0.1, DEFAULTS) == "ok"  # another line: the defaults
    assert prediction_severity(rows, 1, 7, 50.0, 0.1, DEFAULTS) == "critical"
    # A rule switched off for a machine rates nothing: only the other one counts.
    assert prediction_severity(rows, 2, 8, 100.0, 0.95, DEFAULTS) == "ok"
    assert prediction_severity(rows, 3, 8, 100.0, 0.95, DEFAULTS) == "critical"
