"""HTTP routes of planned downtime: the MES (or an engineer) posts and withdraws windows; all may read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api.deps import ReadKey, SessionDep, SettingsDep, require_role
from api.downtime import service
from api.downtime.schemas import DowntimeIn, DowntimeOut
from api.pagination import Page, TimeRangeDep
from api.schemas import ERROR_RESPONSES
from db.base import utcnow
from db.tables import ApiKey

router = APIRouter(prefix="/downtime", tags=["downtime"], responses=ERROR_RESPONSES)
WriterKey = Annotated[ApiKey, Depends(require_role("mes"))]  # planned downtime is the MES's


@router.post(
    "",
    status_code=201,
    summary="Plan downtime of a machine or a line",
    description="While a window is on, the machine (or every machine of the line) opens no new alert and "
    "raises no `silent` alert; alerts already open stay as they are.",
)
def create_window(session: SessionDep, key: WriterKey, body: DowntimeIn) -> DowntimeOut:
    return service.record_window(session, body, created_by=key.name)


def _ending_after(since: datetime | None, current: bool) -> datetime | None:
    """since/until keep the windows that overlap them; `current` those that have not ended yet."""
    if not current:
        return since
    now = utcnow()
    return max(since, now) if since is not None else now


@router.get("", summary="Downtime windows, newest first")
def list_windows(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    period: TimeRangeDep,
    machine: Annotated[
        str | None, Query(max_length=300, description="A machine's windows and its line's.")
    ] = None,
    line: Annotated[str | None, Query(max_length=300, description="A line's windows (site/line).")] = None,
    current: Annotated[bool, Query(description="Only windows that have not ended yet.")] = False,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the last page.")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Windows per page: default 100, at most api_max_page.")
    ] = None,
) -> Page[DowntimeOut]:
    return service.list_windows(
        session,
        machine=machine,
        line=line,
        ending_after=_ending_after(period.since, current),
        starting_before=period.until,
        cursor=cursor,
        limit=limit,
        max_page=settings.api_max_page,
    )


@router.delete("/{window_id}", status_code=204, summary="Withdraw a downtime window")
def delete_window(
    session: SessionDep, _key: WriterKey, window_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    service.withdraw_window(session, window_id)
    return Response(status_code=204)
