"""HTTP route of quality statistics: defect rate per sample with p-chart control limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ReadKey, SessionDep, SettingsDep
from api.quality import service
from api.quality.schemas import QualityOut
from api.schemas import ERROR_RESPONSES, NameText, Timestamp

router = APIRouter(prefix="/quality", tags=["quality"], responses=ERROR_RESPONSES)


@router.get("", summary="A line's defect rate over time, with p-chart control limits")
def line_quality(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    site: Annotated[NameText, Query(description="The line's site.")],
    line: Annotated[NameText, Query(description="The line.")],
    station: Annotated[NameText | None, Query(description="Only this station (default: all).")] = None,
    start: Annotated[Timestamp | None, Query(description="RFC 3339; default end - 7 days.")] = None,
    end: Annotated[Timestamp | None, Query(description="RFC 3339, exclusive; default now.")] = None,
) -> QualityOut:
    found = service.find_line(session, site, line)
    return service.line_quality(session, settings, found, station, start, end)
