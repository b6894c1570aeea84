"""HTTP routes of alert rules: read (every role), set or drop an override (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.alert_rules import service
from api.alert_rules.schemas import RuleOut, ThresholdsIn
from api.deps import ReadKey, SessionDep, SettingsDep, require_role
from api.pagination import Page, page_size
from api.schemas import ERROR_RESPONSES
from db.tables import ApiKey

router = APIRouter(prefix="/alert-rules", tags=["alerts"], responses=ERROR_RESPONSES)
AdminKey = Annotated[ApiKey, Depends(require_role("admin"))]
RuleName = Annotated[str, Path(max_length=64, description="The rule, e.g. rul_low.")]


@router.get("", summary="The alert rules with their defaults and overrides, by rule name")
def list_rules(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Rules per page (default 100).")] = None,
    machine: Annotated[
        str | None,
        Query(max_length=300, description="Say each rule's `effective` thresholds for this machine."),
    ] = None,
) -> Page[RuleOut]:
    size = page_size(limit, settings.api_max_page, "rules")
    return service.list_rules(session, settings, cursor=cursor, limit=size, machine=machine)


@router.put(
    "/{rule}",
    summary="Set a rule's thresholds for the plant, a line or a machine",
    description="Without `line` and `machine` the override is plant-wide. The most specific override "
    "applies to a machine: its own, its line's, the plant's, else the defaults from the settings.",
)
def set_override(
    session: SessionDep, settings: SettingsDep, key: AdminKey, rule: RuleName, body: ThresholdsIn
) -> RuleOut:
    return service.set_override(session, rule, body, key.name, settings)


@router.delete("/{rule}", summary="Drop an override (the next more general thresholds apply again)")
def remove_override(
    session: SessionDep,
    settings: SettingsDep,
    _key: AdminKey,
    rule: RuleName,
    line: Annotated[str | None, Query(max_length=300, description="The line's override (site/line).")] = None,
    machine: Annotated[str | None, Query(max_length=300, description="The machine's override.")] = None,
) -> RuleOut:
    return service.remove_override(session, rule, line, machine, settings)
