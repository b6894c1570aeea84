"""What bench.alerts reads back from the database: machine timelines, the scheduler's runs, alert history.

`timelines` gives, per machine under a path prefix, its reading times, failure events (with the age
the event's note states: the C-MAPSS replay writes "failed after cycle N", the simulated fleet
"failure after N ticks"), repairs (maintenance events), the opening times of the alerts of the
prediction rules and its predictions; bench.alerts_figures turns them into lives and figures.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bench.alerts_figures import Timeline
from db.tables import Alert, AlertEvent, JobRun, Machine, MachineEvent, Notification, Prediction, Reading

PREDICTION_RULES = ("rul_low", "failure_probability_high")
_AGE = re.compile(r"after (?:cycle )?(\d+)")


def _age(note: str) -> int | None:
    found = _AGE.search(note)
    return int(found.group(1)) if found else None


def machine_ids(session: Session, prefix: str) -> dict[int, str]:
    rows = session.execute(select(Machine.id, Machine.path).where(Machine.path.startswith(prefix)))
    return {machine_id: path for machine_id, path in rows}


def timelines(session: Session, prefix: str, new_at_start: bool) -> list[Timeline]:
    ids = machine_ids(session, prefix)
    stamps: dict[int, list[float]] = defaultdict(list)
    for machine_id, ts in session.execute(
        select(Reading.machine_id, Reading.ts).where(Reading.machine_id.in_(ids)).order_by(Reading.ts)
    ):
        stamps[machine_id].append(ts.timestamp())
    failures: dict[int, list[tuple[float, int | None]]] = defaultdict(list)
    repairs: dict[int, list[float]] = defaultdict(list)
    for machine_id, kind, ts, note in session.execute(
        select(MachineEvent.machine_id, MachineEvent.kind, MachineEvent.ts, MachineEvent.note)
        .where(MachineEvent.machine_id.in_(ids))
        .order_by(MachineEvent.ts)
    ):
        if kind == "failure":
            failures[machine_id].append((ts.timestamp(), _age(note)))
        else:
            repairs[machine_id].append(ts.timestamp())
    alerts: dict[int, list[float]] = defaultdict(list)
    for alerted, opened_at in session.execute(
        select(Alert.machine_id, Alert.opened_at)
        .where(Alert.machine_id.in_(ids), Alert.rule.in_(PREDICTION_RULES))
        .order_by(Alert.opened_at)
    ):
        if alerted is not None:
            alerts[alerted].append(opened_at.timestamp())
    predictions: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for scored, made_at, rul in session.execute(
        select(Prediction.machine_id, Prediction.made_at, Prediction.rul)
        .where(Prediction.machine_id.in_(ids), Prediction.rul.is_not(None))
        .order_by(Prediction.made_at)
    ):
        if rul is not None:
            predictions[scored].append((made_at.timestamp(), float(rul)))
    return [
        Timeline(
            path, stamps[m], failures[m], repairs[m], alerts[m], predictions[m], new_at_start=new_at_start
        )
        for m, path in sorted(ids.items(), key=lambda item: item[1])
    ]


def failure_ages(session: Session, prefix: str) -> list[int]:
    """The age at failure that each failure event under `prefix` states (the training lives)."""
    notes = session.scalars(
        select(MachineEvent.note)
        .join(Machine, Machine.id == MachineEvent.machine_id)
        .where(Machine.path.startswith(prefix), MachineEvent.kind == "failure")
    )
    return [age for age in map(_age, notes) if age is not None]


def retire(session: Session, prefix: str, now: datetime) -> int:
    """Retire the machines under `prefix`: the scheduler then scores and alerts only the others."""
    result = session.execute(
        update(Machine)
        .where(Machine.path.startswith(prefix), Machine.retired_at.is_(None))
        .values(retired_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def reading_count(session: Session, prefix: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Reading).join(Machine, Machine.id == Reading.machine_id)
            .where(Machine.path.startswith(prefix))
        ) or 0
    )  # fmt: skip


def job_runs(session: Session, since: datetime) -> dict[str, Any]:
    """Per job since `since`: runs by status and their mean and longest duration in seconds."""
    seconds = func.extract("epoch", JobRun.finished_at - JobRun.started_at)
    rows = session.execute(
        select(JobRun.job_name, JobRun.status, func.count(), func.avg(seconds), func.max(seconds))
        .where(JobRun.started_at >= since)
        .group_by(JobRun.job_name, JobRun.status)
    )
    out: dict[str, Any] = {}
    for job, status, count, mean, longest in rows:
        entry = out.setdefault(job, {})
        entry[status] = count
        if status == "succeeded":
            entry["mean_s"], entry["max_s"] = round(float(mean), 3), round(float(longest), 3)
    return out


def alert_events(session: Session) -> dict[str, int]:
    """Every alert event by kind (all rules and machines): what notifications would be about."""
    rows = session.execute(select(AlertEvent.kind, func.count()).group_by(AlertEvent.kind))
    return {kind: count for kind, count in rows}


def notification_counts(session: Session) -> dict[str, int]:
    """The outbox: notifications sent per channel, and those pending or failed (all channels)."""
    rows = session.execute(
        select(Notification.channel, Notification.status, func.count()).group_by(
            Notification.channel, Notification.status
        )
    )
    out: dict[str, int] = {}
    for channel, status, count in rows:
        key = channel if status == "sent" else status
        out[key] = out.get(key, 0) + count
    return out
