"""HTTP routes of machine events: record one (engineer, mes, admin) and list them (every role).

Included before the machines router: `/machines/{machine:path}` would otherwise swallow `/events`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.deps import ReadKey, SessionDep, SettingsDep, require_role
from api.events import service
from api.events.schemas import EventIn, EventOut
from api.pagination import Page, TimeRangeDep
from api.schemas import ERROR_RESPONSES, ErrorOut
from db.tables import ApiKey

router = APIRouter(prefix="/machines", tags=["events"], responses=ERROR_RESPONSES)

MachineRef = Annotated[
    str, Path(description="The machine's id, its path site/line/machine, or its external (MES) code.")
]
WriterKey = Annotated[ApiKey, Depends(require_role("engineer", "mes"))]


@router.post(
    "/{machine:path}/events",
    status_code=201,
    summary="Record a failure or maintenance event",
    responses={409: {"model": ErrorOut, "description": "The same event (machine, kind, ts) exists."}},
)
def create_event(session: SessionDep, key: WriterKey, machine: MachineRef, body: EventIn) -> EventOut:
    return service.record_event(session, machine, body, created_by=key.name)


@router.get("/{machine:path}/events", summary="A machine's events, newest first")
def list_events(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    period: TimeRangeDep,
    machine: MachineRef,
    kind: Annotated[Literal["failure", "maintenance"] | None, Query(description="Only this kind.")] = None,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the last page.")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Events per page: default 100, at most api_max_page.")
    ] = None,
) -> Page[EventOut]:
    return service.list_events(
        session, machine, kind=kind, period=period, cursor=cursor, limit=limit, max_page=settings.api_max_page
    )
