"""The sensor-health rules: a sensor outside its normal range, or stuck on one value.

Both are judged on the 1-minute rollups up to their watermark. Out of range: every value of the
sensor in the latest rolled-up minutes lay outside [normal_min, normal_max] (sensors without a range
are not judged). Stuck: the sensor reported values for most of the last `alert_stuck_after_s` and
they were all the very same, while in the hourly rollups of the day before it moved (a sensor that is
constant by nature, such as a setpoint, is never stuck). A machine with such an alert is `held`:
prediction rules raise no new alert on it (jobs/evaluate_alerts.py), since its predictions rest on a
sensor that cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from db.repositories import alerts as alerts_repo
from db.repositories.sensor_windows import (
    SensorRange,
    SensorWindow,
    sensor_windows,
    sensors_of_active_machines,
)
from db.rollups import STATE_1M, watermarks
from plantwatch.settings import Settings
from services.alert_engine import apply_severity
from services.alert_rules import RULES, ThresholdIndex, effective_thresholds, severity_for

RANGE_WINDOW = timedelta(minutes=2)
STUCK_COVERAGE = 0.8  # share of the stuck window the sensor must have reported in
VARIED_WITHIN = timedelta(days=1)  # a stuck sensor moved in the hourly rollups of this long before


def _out_of_range(sensors: Sequence[SensorRange], windows: dict[int, SensorWindow]) -> list[dict[str, Any]]:
    found = []
    for sensor in sensors:
        window = windows.get(sensor.position)
        if window is None:
            continue
        if sensor.normal_max is not None and window.low > sensor.normal_max:
            found.append({"sensor": sensor.name, "low": window.low, "normal_max": sensor.normal_max})
        elif sensor.normal_min is not None and window.high < sensor.normal_min:
            found.append({"sensor": sensor.name, "high": window.high, "normal_min": sensor.normal_min})
    return found


def _stuck(
    sensors: Sequence[SensorRange],
    windows: dict[int, SensorWindow],
    before: dict[int, SensorWindow],
    latest_start: datetime,
) -> list[dict[str, Any]]:
    found = []
    for sensor in sensors:
        earlier = before.get(sensor.position)
        if earlier is None or earlier.low == earlier.high:
            continue  # constant by nature (a setpoint, a dead channel since install): not stuck
        window = windows.get(sensor.position)
        if (
            window is not None
            and window.n >= 2
            and window.low == window.high
            and window.first_bucket <= latest_start
        ):
            found.append({"sensor": sensor.name, "value": window.low})
    return found


def _message(rule: str, found: list[dict[str, Any]]) -> str:
    if rule == "sensor_stuck":
        return "stuck: " + ", ".join(f"{f['sensor']} at {f['value']:g}" for f in found)
    parts = [
        f"{f['sensor']} {f['low']:g} > {f['normal_max']:g}"
        if "low" in f
        else f"{f['sensor']} {f['high']:g} < {f['normal_min']:g}"
        for f in found
    ]
    return "out of normal range: " + ", ".join(parts)


def evaluate_sensor_health(
    session: Session,
    settings: Settings,
    now: datetime,
    rules: ThresholdIndex,
    line_of: dict[int, int],
    downtime: set[int],
) -> tuple[dict[str, Any], set[int]]:
    """Apply both rules to every active machine (none new in `downtime`); figures, and the unhealthy."""
    until = watermarks(session).get(STATE_1M)
    figures: dict[str, Any] = {}
    if until is None:
        return {"skipped": "no rollups yet"}, set()
    sensors = sensors_of_active_machines(session)
    stuck_for = timedelta(seconds=settings.alert_stuck_after_s)
    judged = {
        "sensor_out_of_range": sensor_windows(session, until - RANGE_WINDOW, until),
        "sensor_stuck": sensor_windows(session, until - stuck_for, until),
    }
    varied_before = sensor_windows(
        session, until - stuck_for - VARIED_WITHIN, until - stuck_for, "readings_1h"
    )
    latest_start = until - stuck_for * STUCK_COVERAGE
    for rule, windows in judged.items():
        active = alerts_repo.active_severities(session, rule)
        counts: dict[str, int] = {}
        # Also machines with an alert but no sensor in service any more (all retired): it resolves.
        for machine_id in sorted(sensors.keys() | active.keys()):
            machine_sensors = sensors.get(machine_id, [])
            if machine_id not in line_of or (machine_id not in windows and machine_id not in active):
                continue  # no data in the window: nothing to judge (a silent machine has its own alert)
            thresholds = effective_thresholds(rules, rule, machine_id, line_of[machine_id], settings)
            window = windows.get(machine_id, {})
            found = (
                _out_of_range(machine_sensors, window)
                if rule == "sensor_out_of_range"
                else _stuck(machine_sensors, window, varied_before.get(machine_id, {}), latest_start)
            )
            target = (
                severity_for(RULES[rule].worse, len(found), thresholds, active.get(machine_id))
                if thresholds.enabled
                else None
            )
            outcome = apply_severity(
                session, machine_id, rule, target, thresholds.min_duration_s, now,
                _message(rule, found) if found else "", {"sensors": found, "judged_until": until.isoformat()},
                held=machine_id in downtime,
            )  # fmt: skip
            counts[outcome] = counts.get(outcome, 0) + 1
        figures[rule] = counts
    held = alerts_repo.active_machine_ids(session, "sensor_out_of_range") | alerts_repo.active_machine_ids(
        session, "sensor_stuck"
    )
    return figures, held
