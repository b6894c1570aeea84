"""`GET /api/v1/audit` (admin): every committed write through the API, who made it and when."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import AdminKey, SessionDep, SettingsDep
from api.pagination import Page, TimeRangeDep, decode_id_cursor, encode_cursor, page_size
from api.schemas import ERROR_RESPONSES, NameText
from db.repositories import audit

router = APIRouter(prefix="/audit", tags=["keys"], responses=ERROR_RESPONSES)


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    key_id: int | None
    key_name: str
    role: str
    method: str
    path: str
    route: str | None
    query: str | None
    request_id: str | None


@router.get("", summary="The audit log: every committed write, newest first (admin)")
def list_audit_entries(
    session: SessionDep,
    settings: SettingsDep,
    _key: AdminKey,
    period: TimeRangeDep,
    key_name: Annotated[
        NameText | None, Query(description="Only writes made with keys of this name.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Entries per page: default 100.")] = None,
) -> Page[AuditEntryOut]:
    size = page_size(limit, settings.api_max_page, "entries")
    entries = audit.list_entries(
        session,
        since=period.since,
        until=period.until,
        key_name=key_name,
        before_id=decode_id_cursor(cursor) if cursor is not None else None,
        limit=size + 1,
    )
    page = entries[:size]
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(entry, from_attributes=True) for entry in page],
        next_cursor=encode_cursor(page[-1].id) if len(entries) > size else None,
    )
