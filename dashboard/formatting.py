"""Pure helpers that turn API objects into what the pages show: relative ages and tables.

No Streamlit here, so they are tested directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from urllib.parse import quote

import pandas as pd

from dashboard.records import Event, Machine

STALE_MARK = "⚠"


def relative_age(ts: datetime | None, now: datetime) -> str:
    """'3 s ago', '4 min ago', '2 h ago', '3 d ago'; 'never' for None, 'just now' for the future."""
    if ts is None:
        return "never"
    seconds = (now - ts).total_seconds()
    if seconds < 0:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def is_stale(ts: datetime | None, now: datetime, stale_after_s: float) -> bool:
    return ts is None or (now - ts).total_seconds() > stale_after_s


def last_seen_label(ts: datetime | None, now: datetime, stale_after_s: float) -> str:
    label = relative_age(ts, now)
    return f"{STALE_MARK} {label}" if is_stale(ts, now, stale_after_s) else label


def machine_url(path: str) -> str:
    """Relative link to the Machine page with the machine selected (shareable)."""
    return f"machine?machine={quote(path, safe='/')}"


def sensor_column(name: str, unit: str | None) -> str:
    return f"{name} [{unit}]" if unit else name


def group_by_line(machines: Iterable[Machine]) -> dict[tuple[str, str], list[Machine]]:
    """Machines per (site, line), sorted by site, line and machine name."""
    groups: dict[tuple[str, str], list[Machine]] = {}
    for machine in sorted(machines, key=lambda m: (m.site, m.line, m.name)):
        groups.setdefault((machine.site, machine.line), []).append(machine)
    return groups


def sensor_values(machines: Sequence[Machine]) -> pd.DataFrame:
    """One row per machine: the latest value of every sensor of the line (a column each, labelled
    with its unit, in position order of the machine first naming it)."""
    columns: dict[str, str] = {}  # sensor name -> column label, in first-seen order
    for machine in machines:
        for sensor in sorted(machine.sensors, key=lambda s: s.position):
            columns.setdefault(sensor.name, sensor_column(sensor.name, sensor.unit))
        for name in machine.latest_values:
            columns.setdefault(name, name)
    rows = [
        {label: _number(machine.latest_values.get(name)) for name, label in columns.items()}
        for machine in machines
    ]
    return pd.DataFrame(rows, columns=list(columns.values()))


def _number(value: float | None) -> float | None:
    return float(value) if value is not None else None


def fleet_counts(machines: Sequence[Machine], now: datetime, stale_after_s: float) -> tuple[int, int, int]:
    """(machines, reporting within stale_after_s, silent)."""
    reporting = sum(not is_stale(m.last_activity, now, stale_after_s) for m in machines)
    return len(machines), reporting, len(machines) - reporting


def events_table(events: Sequence[Event], tz: tzinfo) -> pd.DataFrame:
    rows = [
        {
            "when": event.ts.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            "kind": event.kind,
            "note": event.note,
            "by": event.created_by or "",
        }
        for event in events
    ]
    return pd.DataFrame(rows, columns=["when", "kind", "note", "by"])


def default_trends(sensors: Sequence[str], drivers: Sequence[str], most: int) -> list[str]:
    """The sensors whose trends a machine's page shows at first: all of them up to `most`, else the
    ones driving its prediction (in their order), then the others in position order, `most` in all."""
    if len(sensors) <= most:
        return list(sensors)
    first = [name for name in drivers if name in sensors]
    return list(dict.fromkeys([*first, *sensors]))[:most]
