"""The figures of bench.alerts from machine timelines: lives, alert leads, recall, false alarms, baseline.

Everything is counted in cycles: a machine's readings, one per cycle, reading i being cycle i. A
machine's readings are cut into lives at its failures: a life ends at the reading at or before its
failure event (failed), or at the machine's last reading (censored: still running when the run
ended). An alert (opened at time t) is placed at the newest reading at or before t, and belongs to the
life that holds that reading; one opened while a failed machine is down (or after its last reading)
falls on the failing reading, lead 0. Lead = failing reading - the alert's reading.

- `recall`: failed lives with an alert opened at least L cycles before the failure.
- `median_lead`, `p10_lead`: over every failed life, the lead of its first alert (0 when none came
  before the failure), so missed failures pull them down rather than drop out.
- `false_alarm_rate`: alerts opened more than H cycles before the failure of their life (in a censored
  life, more than H before its last reading: its failure can only come later), per 100 cycles of the
  lives counted (a censored life's last H cycles are not counted: what was opened there is undecided).
- `recall_within_h`: failed lives with an alert opened between L and H cycles before the failure.

A life counts when its age at its first reading is known (C-MAPSS engines start from new; the
simulated fleet's failure events say the age, and a life that began after a repair starts from new),
and, when it was not observed from new, when at least `min_observed` of its cycles were. The
fixed-age baseline opens one alert per life when the machine's age reaches `age`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bench.common import percentile


@dataclass(frozen=True)
class Timeline:
    """What the database holds about one machine, times as POSIX seconds, each list ascending."""

    machine: str
    stamps: Sequence[float]  # its readings
    failures: Sequence[tuple[float, int | None]]  # (time, age at the failing reading when known)
    repairs: Sequence[float] = ()  # maintenance events: the machine is new again after one
    alerts: Sequence[float] = ()  # opening times of the alerts that count
    predictions: Sequence[tuple[float, float]] = ()  # (made at, predicted RUL)
    new_at_start: bool = False  # its first reading is its first cycle from new


@dataclass(frozen=True)
class Life:
    machine: str
    start: int  # index of its first reading
    end: int  # index of the failing reading, or of the last reading when censored
    failed: bool
    start_age: int | None  # the machine's age (cycles from new, 1-based) at `start`, when known
    alerts: tuple[int, ...] = ()  # the reading index at each alert's opening
    predictions: tuple[tuple[int, float], ...] = field(default=())  # (reading index, predicted RUL)

    @property
    def cycles(self) -> int:
        return self.end - self.start + 1


def _at(stamps: Sequence[float], t: float) -> int:
    """Index of the newest reading at or before `t` (-1 before the first)."""
    return bisect.bisect_right(stamps, t) - 1


def lives_of(timeline: Timeline) -> list[Life]:
    stamps = timeline.stamps
    if not stamps:
        return []
    lives: list[Life] = []
    start, last_failure = 0, float("-inf")
    for failed_at, age in [*timeline.failures, (None, None)]:
        end = len(stamps) - 1 if failed_at is None else _at(stamps, failed_at)
        if end < start:
            continue
        if age is not None and failed_at is not None:
            start_age: int | None = age - (end - start)
        elif start == 0:
            start_age = 1 if timeline.new_at_start else None
        else:  # after a failure: new again once repaired before its first reading
            repaired = any(last_failure < r <= stamps[start] for r in timeline.repairs)
            start_age = 1 if repaired else None
        lives.append(Life(timeline.machine, start, end, failed_at is not None, start_age))
        if failed_at is not None:
            start, last_failure = end + 1, failed_at
    alerts = [_at(stamps, t) for t in timeline.alerts]
    predictions = [(_at(stamps, t), rul) for t, rul in timeline.predictions]
    return [
        replace(
            life,
            alerts=tuple(i for i in alerts if life.start <= i <= life.end),
            predictions=tuple((i, rul) for i, rul in predictions if life.start <= i <= life.end),
        )
        for life in lives
    ]


def counted(lives: Sequence[Life], min_observed: int) -> list[Life]:
    """The lives that count: start age known, and observed from new or for `min_observed` cycles."""
    return [
        life
        for life in lives
        if life.start_age is not None and (life.start_age <= 1 or life.cycles >= min_observed)
    ]


def figures(lives: Sequence[Life], lead: int, horizon: int) -> dict[str, Any]:
    """recall, leads and false alarms of the alerts of `lives` (already filtered by `counted`)."""
    failed = [life for life in lives if life.failed]
    leads = [life.end - min(life.alerts) if life.alerts else 0 for life in failed]
    within = [any(lead <= life.end - a <= horizon for a in life.alerts) for life in failed]
    false_alarms = sum(1 for life in lives for a in life.alerts if life.end - a > horizon)
    cycles = sum(life.cycles if life.failed else max(0, life.cycles - horizon) for life in lives)
    return {
        "failures": len(failed),
        "recall": round(sum(1 for x in leads if x >= lead) / len(failed), 3) if failed else None,
        "median_lead": round(percentile(leads, 50), 1) if failed else None,
        "p10_lead": round(percentile(leads, 10), 1) if failed else None,
        "false_alarm_rate": round(100 * false_alarms / cycles, 4) if cycles else None,
        "false_alarms": false_alarms,
        "machine_cycles": cycles,
        "recall_within_h": round(sum(within) / len(failed), 3) if failed else None,
        "alerts": sum(len(life.alerts) for life in lives),
    }


def with_age_alerts(lives: Sequence[Life], age: int) -> list[Life]:
    """The same lives with one alert each, at the reading where the machine's age reaches `age`."""
    out = []
    for life in lives:
        if life.start_age is None:
            continue
        at = life.start + max(0, age - life.start_age)
        out.append(replace(life, alerts=(at,) if at <= life.end else ()))
    return out


def baseline_age(training_lives: Sequence[int], lead: int, target_recall: float) -> int:
    """The alert age that warns `target_recall` of the training lives (ages at failure) L cycles ahead."""
    return int(percentile(training_lives, 100 * (1 - target_recall))) - lead


def prediction_error(lives: Sequence[Life], horizon: int) -> dict[str, Any]:
    """RMSE and mean error (predicted - true) of the RUL predictions made within H cycles of a failure."""
    errors = [
        rul - (life.end - i)
        for life in lives
        if life.failed
        for i, rul in life.predictions
        if life.end - i <= horizon
    ]
    if not errors:
        return {"n": 0}
    return {
        "n": len(errors),
        "rmse": round((sum(e * e for e in errors) / len(errors)) ** 0.5, 2),
        "bias": round(sum(errors) / len(errors), 2),
    }
