"""HTTP route of the alert-quality figures per line over a period (default: the last 7 days)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ReadKey, SessionDep
from api.errors import invalid
from api.quality.service import find_line_path
from api.schemas import ERROR_RESPONSES, Timestamp
from db.base import utcnow
from services.alert_figures import CHATTER_OPENINGS, CHATTER_WINDOW, STANDING_AFTER, alert_figures

router = APIRouter(prefix="/alert-figures", tags=["alerts"], responses=ERROR_RESPONSES)


class ChatteringOut(BaseModel):
    subject: str = Field(description="The machine's path (the line's, for a line's alert).")
    rule: str
    opened: int


class LineFiguresOut(BaseModel):
    line: str
    opened: int
    per_engineer_hour: float
    chattering: list[ChatteringOut]
    standing: int
    with_outcome: int
    false_alarms: int
    false_alarm_fraction: float | None
    median_minutes_to_acknowledge: float | None


class AlertFiguresOut(BaseModel):
    since: Timestamp
    until: Timestamp
    chattering_rule: str
    standing_rule: str
    lines: list[LineFiguresOut]


@router.get(
    "",
    summary="Alert-quality figures per line (ISA-18.2 spirit)",
    description="Alerts opened per hour, chattering pairs, standing alerts, false alarms (maintenance "
    "found no fault) and the median time to acknowledge, per line, over [since, until).",
)
def get_figures(
    session: SessionDep,
    _key: ReadKey,
    since: Annotated[Timestamp | None, Query(description="Default: 7 days before `until`.")] = None,
    until: Annotated[Timestamp | None, Query(description="Default: now.")] = None,
    line: Annotated[str | None, Query(max_length=300, description="Only this line (site/line).")] = None,
) -> AlertFiguresOut:
    end = until or utcnow()
    start = since or end - timedelta(days=7)
    if start >= end:
        raise invalid("query.since: must be before until")
    line_id = find_line_path(session, line, "query.line").id if line is not None else None
    figures = alert_figures(session, start, end, line_id)
    return AlertFiguresOut(
        since=start,
        until=end,
        chattering_rule=f"{CHATTER_OPENINGS} or more openings of one rule on one subject within "
        f"{int(CHATTER_WINDOW.total_seconds() // 60)} minutes",
        standing_rule=f"active at `until` and opened more than {STANDING_AFTER.total_seconds() / 3600:g} h "
        "before",
        lines=[LineFiguresOut.model_validate(f, from_attributes=True) for f in figures],
    )
