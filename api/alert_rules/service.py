"""Alert rules for the API: the catalogue with defaults and overrides; set or drop an override."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.orm import Session

from api.alert_rules.schemas import EffectiveOut, OverrideOut, RuleOut, ThresholdsIn, ThresholdsOut
from api.errors import invalid, not_found
from api.machines.service import find_machine
from api.pagination import Page, decode_name_cursor, encode_cursor
from api.quality.service import find_line_path
from db.base import utcnow
from db.repositories import alert_rules as repo
from db.tables import AlertRule, Line, Machine
from plantwatch.settings import Settings
from services import alert_rules
from services.alert_rules import RULES, Thresholds


def _thresholds_out(t: Thresholds) -> ThresholdsOut:
    return ThresholdsOut(**{k: v for k, v in asdict(t).items() if k != "source"})


def _override_out(session: Session, row: AlertRule) -> OverrideOut:
    line = session.get(Line, row.line_id) if row.line_id is not None else None
    machine = session.get(Machine, row.machine_id) if row.machine_id is not None else None
    return OverrideOut(
        scope="machine" if machine is not None else "line" if line is not None else "plant",
        line=f"{line.site.name}/{line.name}" if line is not None else None,
        machine=machine.path if machine is not None else None,
        enabled=row.enabled,
        warning=row.warning,
        critical=row.critical,
        hysteresis=row.hysteresis,
        min_duration_s=row.min_duration_s,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _rule_out(session: Session, rule: str, settings: Settings, machine: Machine | None = None) -> RuleOut:
    """The rule with its defaults, its overrides and the thresholds in effect for `machine` (None:
    plant-wide)."""
    spec = RULES[rule]
    rows = repo.list_rules(session, rule)
    effective = alert_rules.ThresholdIndex(rows).effective(
        rule, machine.id if machine else None, machine.line_id if machine else None, settings
    )
    return RuleOut(
        rule=rule,
        description=spec.description,
        worse=spec.worse,
        unit=spec.unit,
        defaults=_thresholds_out(alert_rules.default_thresholds(rule, settings)),
        overrides=[_override_out(session, row) for row in rows],
        effective=EffectiveOut(**asdict(effective)),
    )


def _known(rule: str) -> None:
    if rule not in RULES:
        raise not_found(f"no rule {rule!r}; rules are {', '.join(sorted(RULES))}")


def _scope(session: Session, line: str | None, machine: str | None) -> tuple[int | None, Machine | None]:
    """(line id, machine) of an override's scope; neither: the plant's."""
    if line is not None and machine is not None:
        raise invalid("give at most one of machine and line (neither: the plant-wide override)")
    if machine is not None:
        return None, find_machine(session, machine)
    if line is not None:
        return find_line_path(session, line, "line").id, None
    return None, None


def list_rules(
    session: Session, settings: Settings, *, cursor: str | None, limit: int, machine: str | None = None
) -> Page[RuleOut]:
    """The rules by name, `limit` at a time, after the rule the cursor names; `effective` for
    `machine` (id, path or MES code), else plant-wide."""
    after = decode_name_cursor(cursor)
    found = find_machine(session, machine) if machine is not None else None
    names = [rule for rule in sorted(RULES) if after is None or rule > after]
    rules = [_rule_out(session, rule, settings, found) for rule in names[:limit]]
    return Page(items=rules, next_cursor=encode_cursor(rules[-1].rule) if len(names) > limit else None)


def set_override(session: Session, rule: str, body: ThresholdsIn, by: str, settings: Settings) -> RuleOut:
    _known(rule)
    line_id, machine = _scope(session, body.line, body.machine)
    thresholds = Thresholds(
        body.enabled, body.warning, body.critical, body.hysteresis, body.min_duration_s, "api"
    )
    machine_id = machine.id if machine else None
    try:
        alert_rules.set_override(session, rule, line_id, machine_id, thresholds, by, utcnow())
    except alert_rules.RuleValueError as exc:
        raise invalid(str(exc)) from exc
    return _rule_out(session, rule, settings, machine)


def remove_override(
    session: Session, rule: str, line: str | None, machine: str | None, settings: Settings
) -> RuleOut:
    _known(rule)
    line_id, found = _scope(session, line, machine)
    if not alert_rules.remove_override(session, rule, line_id, found.id if found else None):
        raise not_found(f"{rule} has no override for that scope")
    return _rule_out(session, rule, settings, found)
