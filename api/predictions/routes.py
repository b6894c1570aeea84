"""HTTP routes of health and RUL: the fleet's latest health, and scoring windows sent in the request.

One machine's health is `GET /machines/{machine}/health` (routed with the machines, see
api/machines/routes.py, so that it comes before the bare machine route).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.answer_cache import CachedAnswerDep
from api.deps import ReadKey, SessionDep, SettingsDep
from api.pagination import Page, TimeRangeDep
from api.predictions import service
from api.predictions.schemas import MachineHealthOut, PredictRulIn, PredictRulOut
from api.responses import json_response
from api.schemas import ERROR_RESPONSES, NameText

router = APIRouter(tags=["health and predictions"], responses=ERROR_RESPONSES)


@router.get(
    "/health",
    summary="Latest health and RUL of every machine, by id (since/until: only those whose latest "
    "prediction was made then, e.g. since the last poll)",
    response_model=Page[MachineHealthOut],
)
def fleet_health(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    answer: CachedAnswerDep,
    predicted: TimeRangeDep,
    site: Annotated[NameText | None, Query(description="Only machines of this site.")] = None,
    line: Annotated[NameText | None, Query(description="Only machines of lines with this name.")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Machines per page: default 100, at most api_max_page.")
    ] = None,
) -> Response:
    return answer.json(
        session,
        lambda: service.fleet_health(
            session,
            settings,
            site=site,
            line=line,
            predicted=predicted,
            cursor=cursor,
            limit=limit,
            max_page=settings.api_max_page,
        ),
    )


@router.post(
    "/predict/rul", summary="Score windows of readings sent in the request", response_model=PredictRulOut
)
def predict_rul(session: SessionDep, _key: ReadKey, body: PredictRulIn) -> Response:
    # Written by its model at once: through FastAPI's response checks it would cost a third more.
    return json_response(service.predict_rul(session, body))
