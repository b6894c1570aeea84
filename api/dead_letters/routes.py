"""HTTP routes of dead letters: list and summarise them (any key), ask for a replay (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.dead_letters import service
from api.dead_letters.schemas import DeadLetterOut, DeadLetterSummaryOut, ReasonText, ReplayIn, ReplayOut
from api.deps import ReadKey, SessionDep, SettingsDep, require_role
from api.pagination import Page, TimeRangeDep
from api.schemas import ERROR_RESPONSES
from db.tables import ApiKey

router = APIRouter(prefix="/dead-letters", tags=["dead letters"], responses=ERROR_RESPONSES)

AdminKey = Annotated[ApiKey, Depends(require_role())]


@router.get("", summary="Dead letters, newest first")
def list_dead_letters(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    period: TimeRangeDep,
    reason: Annotated[ReasonText | None, Query(description="Only this reason, e.g. not_json.")] = None,
    replayed: Annotated[
        bool | None, Query(description="true: only replayed letters; false: only the others.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Letters per page: default 100, at most api_max_page.")
    ] = None,
) -> Page[DeadLetterOut]:
    return service.list_dead_letters(
        session,
        reason=reason,
        replayed=replayed,
        period=period,
        cursor=cursor,
        limit=limit,
        max_page=settings.api_max_page,
    )


@router.get("/summary", summary="How many dead letters, by reason")
def summary(session: SessionDep, _key: ReadKey) -> DeadLetterSummaryOut:
    return service.summary(session)


@router.post("/replay", status_code=202, summary="Ask the ingestors to replay dead letters")
def request_replay(session: SessionDep, _key: AdminKey, body: ReplayIn) -> ReplayOut:
    """Marks the letters named by `ids`, or every letter with `reason`; an ingestor replays them
    within a few seconds with the current rules (see each letter's `replayed_at` and `replay_error`)."""
    return service.request_replay(session, body)
