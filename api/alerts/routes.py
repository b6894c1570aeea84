"""HTTP routes of alerts: list and read (every role), acknowledge/resolve/comment/shelve (engineer),
maintenance outcomes (engineer, mes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from api.alerts import service
from api.alerts.schemas import AlertDetailOut, AlertOut, CommentIn, OutcomeIn, RequiredCommentIn, ShelveIn
from api.answer_cache import CachedAnswerDep
from api.deps import ReadKey, SessionDep, SettingsDep, require_role
from api.pagination import Page
from api.schemas import ERROR_RESPONSES, ErrorOut, Timestamp
from db.tables import ApiKey

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=ERROR_RESPONSES)
EngineerKey = Annotated[ApiKey, Depends(require_role("engineer"))]
OutcomeKey = Annotated[ApiKey, Depends(require_role("mes"))]  # work-order outcomes come from the MES
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1)]
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Not allowed in the alert's state (the detail says why)."}
}


@router.get("", summary="Alerts, newest first", response_model=Page[AlertOut])
def list_alerts(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    answer: CachedAnswerDep,
    state: Annotated[
        Literal["open", "acknowledged", "resolved", "active"] | None,
        Query(description="active = open or acknowledged."),
    ] = None,
    severity: Annotated[Literal["info", "warning", "critical"] | None, Query()] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    line: Annotated[
        str | None, Query(max_length=300, description="site/line: its machines' alerts and its own.")
    ] = None,
    machine: Annotated[str | None, Query(max_length=300, description="Id, path or MES code.")] = None,
    shelved: Annotated[
        bool | None, Query(description="Only shelved (true) or not shelved (false) now.")
    ] = None,
    opened_after: Annotated[Timestamp | None, Query()] = None,
    opened_before: Annotated[Timestamp | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the last page.")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Alerts per page: default 100, at most api_max_page.")
    ] = None,
) -> Response:
    # Whether an alert is shelved depends on the time as well as the data: those lists are not kept.
    return answer.json(session, lambda: service.list_alerts(
        session, state=state, severity=severity, rule=rule, line=line, machine=machine, shelved=shelved,
        opened_after=opened_after, opened_before=opened_before, cursor=cursor, limit=limit,
        max_page=settings.api_max_page,
    ), cacheable=shelved is None)  # fmt: skip


@router.get("/{alert_id}", summary="One alert with its history and notifications")
def get_alert(session: SessionDep, _key: ReadKey, alert_id: AlertId) -> AlertDetailOut:
    return service.get_alert(session, alert_id)


@router.post("/{alert_id}/acknowledge", summary="Acknowledge an open alert", responses=REFUSED)
def acknowledge(session: SessionDep, key: EngineerKey, alert_id: AlertId, body: CommentIn) -> AlertDetailOut:
    return service.acknowledge(session, alert_id, key.name, body.comment)


@router.post("/{alert_id}/resolve", summary="Resolve an active alert by hand", responses=REFUSED)
def resolve(session: SessionDep, key: EngineerKey, alert_id: AlertId, body: CommentIn) -> AlertDetailOut:
    return service.resolve(session, alert_id, key.name, body.comment)


@router.post("/{alert_id}/comments", summary="Comment on an alert")
def add_comment(
    session: SessionDep, key: EngineerKey, alert_id: AlertId, body: RequiredCommentIn
) -> AlertDetailOut:
    return service.add_comment(session, alert_id, key.name, body.comment)


@router.post(
    "/{alert_id}/shelve",
    summary="Shelve an active alert: its notifications are held back until then",
    responses=REFUSED,
)
def shelve(session: SessionDep, key: EngineerKey, alert_id: AlertId, body: ShelveIn) -> AlertDetailOut:
    return service.shelve(session, alert_id, key.name, body)


@router.delete("/{alert_id}/shelve", summary="End an alert's shelving now", responses=REFUSED)
def unshelve(session: SessionDep, key: EngineerKey, alert_id: AlertId) -> AlertDetailOut:
    return service.unshelve(session, alert_id, key.name)


@router.post(
    "/{alert_id}/outcome",
    summary="What maintenance found (labels the next training; no_fault_found is a false alarm)",
    responses=REFUSED,
)
def record_outcome(
    session: SessionDep, key: OutcomeKey, alert_id: AlertId, body: OutcomeIn
) -> AlertDetailOut:
    return service.record_outcome(session, alert_id, key.name, body)
