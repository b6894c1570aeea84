"""The alert rules the engine evaluates: what each watches, its thresholds, and the hysteresis decision.

A rule's thresholds come from the most specific `alert_rules` row (the machine's, else its line's,
else the plant-wide one with neither), else from the settings. `severity_for` is the one place that
turns a value into a severity: entering a level needs the value beyond its threshold, leaving it
needs the value back past the threshold by `hysteresis`, so a value hovering at a threshold does not
flap the alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from db.repositories import alert_rules as repo
from db.tables import AlertRule
from plantwatch.settings import Settings


@dataclass(frozen=True)
class RuleSpec:
    name: str
    description: str
    worse: Literal["below", "above"]  # the side of a threshold that is bad
    unit: str


RULES: dict[str, RuleSpec] = {
    spec.name: spec
    for spec in (
        RuleSpec("rul_low", "predicted remaining useful life at or below the threshold", "below", "cycles"),
        RuleSpec(
            "failure_probability_high",
            "probability of failure within the horizon at or above the threshold",
            "above",
            "probability",
        ),
        RuleSpec(
            "sensor_out_of_range",
            "sensors whose every value for a minute lay outside their normal range (count)",
            "above",
            "sensors",
        ),
        RuleSpec("silent", "no reading for longer than the threshold", "above", "seconds"),
        RuleSpec(
            "quality",
            "a line's defect rate above its p-chart upper control limit (the limit comes from the line's "
            "own history: an override only switches the rule off or on for a line)",
            "above",
            "p-chart",
        ),
        RuleSpec(
            "sensor_stuck",
            "sensors that reported the very same value for alert_stuck_after_s (count)",
            "above",
            "sensors",
        ),
    )
}
SENSOR_HEALTH_RULES = ("sensor_out_of_range", "sensor_stuck")


class UnknownRuleError(LookupError):
    pass


@dataclass(frozen=True)
class Thresholds:
    enabled: bool
    warning: float | None
    critical: float | None
    hysteresis: float
    min_duration_s: int
    source: str  # default, plant, line or machine: where these thresholds come from


def spec_of(rule: str) -> RuleSpec:
    try:
        return RULES[rule]
    except KeyError:
        raise UnknownRuleError(f"unknown rule {rule!r}; rules are {', '.join(sorted(RULES))}") from None


def default_thresholds(rule: str, settings: Settings) -> Thresholds:
    """The built-in thresholds of `rule`, from the settings."""
    spec_of(rule)
    duration = settings.alert_min_duration_s
    if rule == "rul_low":
        return Thresholds(
            True, settings.alert_rul_warning, settings.alert_rul_critical, settings.alert_rul_hysteresis,
            duration, "default",
        )  # fmt: skip
    if rule == "failure_probability_high":
        return Thresholds(
            True,
            settings.alert_failure_probability_warning,
            settings.alert_failure_probability_critical,
            settings.alert_failure_probability_hysteresis,
            duration,
            "default",
        )
    if rule == "quality":
        return Thresholds(True, None, None, 0.0, 0, "default")
    if rule == "silent":
        return Thresholds(True, float(settings.silent_after_s), None, 0.0, 0, "default")
    # Sensor rules count sensors: one is a warning. A stuck sensor is judged over
    # alert_stuck_after_s already, so it needs no further wait.
    wait = 0 if rule == "sensor_stuck" else duration
    return Thresholds(True, 1.0, None, 0.0, wait, "default")


def _from_row(row: AlertRule, source: str) -> Thresholds:
    return Thresholds(row.enabled, row.warning, row.critical, row.hysteresis, row.min_duration_s, source)


class ThresholdIndex:
    """Overrides by where they apply (a machine, a line, the plant), looked up in constant time: a page
    of 1,000 machines against as many overrides would otherwise scan them all for each machine."""

    def __init__(self, rows: Iterable[AlertRule]) -> None:
        self.machine: dict[tuple[str, int], AlertRule] = {}
        self.line: dict[tuple[str, int], AlertRule] = {}
        self.plant: dict[str, AlertRule] = {}
        for row in rows:
            if row.machine_id is not None:
                self.machine[(row.rule, row.machine_id)] = row
            elif row.line_id is not None:
                self.line[(row.rule, row.line_id)] = row
            else:
                self.plant[row.rule] = row

    def effective(
        self, rule: str, machine_id: int | None, line_id: int | None, settings: Settings
    ) -> Thresholds:
        """The thresholds that apply to one machine: its own row, its line's, the plant's, or the default
        (no machine and line: the plant's, or the default)."""
        for source, row in (
            ("machine", self.machine.get((rule, machine_id)) if machine_id is not None else None),
            ("line", self.line.get((rule, line_id)) if line_id is not None else None),
            ("plant", self.plant.get(rule)),
        ):
            if row is not None:
                return _from_row(row, source)
        return default_thresholds(rule, settings)


def effective_thresholds(
    rows: Iterable[AlertRule] | ThresholdIndex, rule: str, machine_id: int, line_id: int, settings: Settings
) -> Thresholds:
    """The thresholds that apply to one machine (pass a ThresholdIndex when asking for many)."""
    index = rows if isinstance(rows, ThresholdIndex) else ThresholdIndex(rows)
    return index.effective(rule, machine_id, line_id, settings)


def severity_for(worse: str, value: float, thresholds: Thresholds, current: str | None) -> str | None:
    """The severity `value` calls for (None: no alert), given the alert's `current` severity."""

    def beyond(threshold: float | None, margin: float) -> bool:
        if threshold is None:
            return False
        return value <= threshold + margin if worse == "below" else value >= threshold - margin

    if beyond(thresholds.critical, thresholds.hysteresis if current == "critical" else 0.0):
        return "critical"
    if beyond(thresholds.warning, thresholds.hysteresis if current in ("warning", "critical") else 0.0):
        return "warning"
    return None


PREDICTION_RULES = ("rul_low", "failure_probability_high")
SEVERITY_ORDER = ("ok", "warning", "critical")


def prediction_rule_index(session: Session) -> ThresholdIndex:
    """The overrides of the prediction rules, read once for a page of machines."""
    return ThresholdIndex(row for rule in PREDICTION_RULES for row in repo.list_rules(session, rule))


def prediction_severity(
    rules: Iterable[AlertRule] | ThresholdIndex, machine_id: int, line_id: int, rul: float | None,
    probability: float | None, settings: Settings,
) -> str | None:  # fmt: skip
    """How the prediction rules in effect for a machine (its own, its line's or the plant's overrides,
    else the defaults) rate a prediction: critical, warning or ok; None when it has neither figure.
    Without hysteresis: a rating of this prediction alone, not of an alert's life."""
    index = rules if isinstance(rules, ThresholdIndex) else ThresholdIndex(rules)
    rated = []
    for rule, value in zip(PREDICTION_RULES, (rul, probability), strict=True):
        if value is None:
            continue
        thresholds = index.effective(rule, machine_id, line_id, settings)
        found = severity_for(RULES[rule].worse, value, thresholds, None) if thresholds.enabled else None
        rated.append(found or "ok")
    return max(rated, key=SEVERITY_ORDER.index) if rated else None


class RuleValueError(ValueError):
    pass


def set_override(
    session: Session,
    rule: str,
    line_id: int | None,
    machine_id: int | None,
    thresholds: Thresholds,
    by: str,
    now: datetime,
) -> AlertRule:
    """Create or replace the thresholds of `rule` for a machine, a line, or (neither) the whole plant."""
    spec = spec_of(rule)
    if (
        thresholds.enabled
        and thresholds.warning is None
        and thresholds.critical is None
        and rule != "quality"
    ):
        raise RuleValueError("an enabled rule needs a warning or a critical threshold")
    if thresholds.warning is not None and thresholds.critical is not None:
        lower_is_worse = spec.worse == "below"
        if (
            (thresholds.critical > thresholds.warning)
            if lower_is_worse
            else (thresholds.critical < thresholds.warning)
        ):
            side = "at or below" if lower_is_worse else "at or above"
            raise RuleValueError(f"{rule}: critical must be {side} warning (values {spec.worse} are worse)")
    row = repo.find_rule(session, rule, line_id, machine_id)
    if row is None:
        row = AlertRule(rule=rule, line_id=line_id, machine_id=machine_id)
        session.add(row)
    row.enabled = thresholds.enabled
    row.warning, row.critical = thresholds.warning, thresholds.critical
    row.hysteresis, row.min_duration_s = thresholds.hysteresis, thresholds.min_duration_s
    row.updated_at, row.updated_by = now, by
    session.flush()
    return row


def remove_override(session: Session, rule: str, line_id: int | None, machine_id: int | None) -> bool:
    """Drop the override of exactly this scope; False when there was none."""
    spec_of(rule)
    row = repo.find_rule(session, rule, line_id, machine_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
