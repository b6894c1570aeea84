"""Queries of the alert engine: rule rows (overrides of the defaults) and pending conditions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.tables import AlertCondition, AlertRule


def list_rules(session: Session, rule: str | None = None) -> Sequence[AlertRule]:
    query = select(AlertRule).order_by(AlertRule.rule, AlertRule.line_id, AlertRule.machine_id)
    if rule is not None:
        query = query.where(AlertRule.rule == rule)
    return session.scalars(query).all()


def find_rule(session: Session, rule: str, line_id: int | None, machine_id: int | None) -> AlertRule | None:
    """The row of exactly this scope (none of line and machine: plant-wide)."""
    query = select(AlertRule).where(AlertRule.rule == rule).with_for_update()
    query = query.where(AlertRule.line_id.is_(None) if line_id is None else AlertRule.line_id == line_id)
    query = query.where(
        AlertRule.machine_id.is_(None) if machine_id is None else AlertRule.machine_id == machine_id
    )
    return session.scalar(query)


def get_condition(session: Session, machine_id: int, rule: str) -> AlertCondition | None:
    return session.get(AlertCondition, (machine_id, rule), with_for_update=True)


def start_condition(
    session: Session, machine_id: int, rule: str, severity: str, since: datetime
) -> AlertCondition:
    condition = AlertCondition(machine_id=machine_id, rule=rule, severity=severity, since=since)
    session.add(condition)
    session.flush()
    return condition


def clear_condition(session: Session, machine_id: int, rule: str) -> None:
    session.execute(
        delete(AlertCondition).where(AlertCondition.machine_id == machine_id, AlertCondition.rule == rule)
    )


def pending_machine_ids(session: Session, rule: str) -> set[int]:
    return set(session.scalars(select(AlertCondition.machine_id).where(AlertCondition.rule == rule)))
