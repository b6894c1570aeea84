"""Alert-quality figures in the spirit of ISA-18.2: load per line, chattering, standing and false alerts.

- `per_engineer_hour`: alerts opened per hour of the period, per line (one engineer watching a line;
  ISA-18.2 calls about 6 per hour manageable and more than 12 unmanageable).
- `chattering`: machine-and-rule pairs that opened `CHATTER_OPENINGS` or more alerts within any
  `CHATTER_WINDOW` (ISA-18.2 counts 3 in a minute for process alarms; predictions move per scoring
  pass, so the window here is an hour).
- `standing`: alerts still active at the end of the period that opened more than `STANDING_AFTER`
  before it.
- `false_alarms`: alerts opened in the period whose maintenance outcome was `no_fault_found`;
  `false_alarm_fraction` is over the alerts opened in the period that have an outcome.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.tables import Alert, Line, Machine, Site

CHATTER_OPENINGS = 3
CHATTER_WINDOW = timedelta(hours=1)
STANDING_AFTER = timedelta(hours=24)


@dataclass
class LineFigures:
    line: str
    opened: int = 0
    per_engineer_hour: float = 0.0
    chattering: list[dict[str, object]] = field(default_factory=list)
    standing: int = 0
    with_outcome: int = 0
    false_alarms: int = 0
    false_alarm_fraction: float | None = None
    median_minutes_to_acknowledge: float | None = None


def _chattering(openings: list[datetime]) -> bool:
    openings = sorted(openings)
    return any(
        openings[i + CHATTER_OPENINGS - 1] - openings[i] <= CHATTER_WINDOW
        for i in range(len(openings) - CHATTER_OPENINGS + 1)
    )


def alert_figures(
    session: Session, since: datetime, until: datetime, line_id: int | None = None
) -> list[LineFigures]:
    """Figures per line (site/line) over alerts opened in [since, until), lines without alerts left out."""
    subject_line = func.coalesce(Machine.line_id, Alert.line_id)
    query = (
        select(Alert, Site.name, Line.name, Machine.path)
        .outerjoin(Machine, Machine.id == Alert.machine_id)
        .join(Line, Line.id == subject_line)
        .join(Site, Site.id == Line.site_id)
        .where(
            or_(
                (Alert.opened_at >= since) & (Alert.opened_at < until),
                (Alert.state != "resolved") & (Alert.opened_at < until - STANDING_AFTER),
            )
        )
    )
    if line_id is not None:
        query = query.where(subject_line == line_id)
    hours = max((until - since).total_seconds() / 3600, 1e-9)
    lines: dict[str, LineFigures] = {}
    openings: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    to_ack: dict[str, list[float]] = defaultdict(list)
    for alert, site, line, machine_path in session.execute(query):
        name = f"{site}/{line}"
        figures = lines.setdefault(name, LineFigures(name))
        if alert.state != "resolved" and alert.opened_at < until - STANDING_AFTER:
            figures.standing += 1
        if not since <= alert.opened_at < until:
            continue
        figures.opened += 1
        openings[(name, machine_path or name, alert.rule)].append(alert.opened_at)
        if alert.outcome is not None:
            figures.with_outcome += 1
            figures.false_alarms += alert.outcome == "no_fault_found"
        if alert.acknowledged_at is not None:
            to_ack[name].append((alert.acknowledged_at - alert.opened_at).total_seconds() / 60)
    for (name, subject, rule), times in sorted(openings.items()):
        if len(times) >= CHATTER_OPENINGS and _chattering(times):
            lines[name].chattering.append({"subject": subject, "rule": rule, "opened": len(times)})
    for name, figures in lines.items():
        figures.per_engineer_hour = figures.opened / hours
        if figures.with_outcome:
            figures.false_alarm_fraction = figures.false_alarms / figures.with_outcome
        if to_ack.get(name):
            figures.median_minutes_to_acknowledge = statistics.median(to_ack[name])
    return [lines[name] for name in sorted(lines)]
