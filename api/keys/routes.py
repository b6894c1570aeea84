"""API keys over HTTP: `GET /api/v1/me` (any key), and issuing, listing and revoking keys (admin).

A new key's plaintext is in the answer to its creation only; the database keeps its SHA-256.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import event, select

from api.deps import AdminKey, ReadKey, SessionDep, SettingsDep
from api.errors import not_found
from api.key_cache import KeyCache
from api.pagination import Page, TimeRangeDep, decode_id_cursor, encode_cursor, page_size
from api.schemas import ERROR_RESPONSES
from db.tables import ApiKey
from services import api_keys

router = APIRouter(tags=["keys"], responses=ERROR_RESPONSES)

Role = Literal["viewer", "engineer", "mes", "admin"]


class IdentityOut(BaseModel):
    id: int
    name: str
    role: str
    created_at: datetime


class KeyOut(IdentityOut):
    prefix: str = Field(description="The public part of the key (pw_<prefix>_…), to tell keys apart.")
    revoked_at: datetime | None


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00]*$", description="Who or what uses it.")
    role: Role


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, store it now.")


def _key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        role=key.role,
        created_at=key.created_at,
        prefix=key.prefix,
        revoked_at=key.revoked_at,
    )


@router.get("/me", summary="The calling API key's name and role")
def me(key: ReadKey) -> IdentityOut:
    return IdentityOut(id=key.id, name=key.name, role=key.role, created_at=key.created_at)


@router.get("/keys", summary="Every API key, revoked ones included, oldest first (admin)")
def list_keys(
    session: SessionDep,
    settings: SettingsDep,
    _key: AdminKey,
    period: TimeRangeDep,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Keys per page: default 100.")] = None,
) -> Page[KeyOut]:
    """`since` / `until` filter on the keys' creation time."""
    size = page_size(limit, settings.api_max_page, "keys")
    query = select(ApiKey).where(ApiKey.id > decode_id_cursor(cursor)).order_by(ApiKey.id).limit(size + 1)
    if period.since is not None:
        query = query.where(ApiKey.created_at >= period.since)
    if period.until is not None:
        query = query.where(ApiKey.created_at < period.until)
    found = session.scalars(query).all()
    page = found[:size]
    return Page[KeyOut](
        items=[_key_out(key) for key in page],
        next_cursor=encode_cursor(page[-1].id) if len(found) > size else None,
    )


@router.post("/keys", status_code=201, summary="Issue an API key; its plaintext is shown only here (admin)")
def create_key(session: SessionDep, _key: AdminKey, body: KeyIn) -> NewKeyOut:
    key, plaintext = api_keys.create_key(session, body.name, body.role)
    return NewKeyOut(**_key_out(key).model_dump(), key=plaintext)


@router.delete("/keys/{key_id}", summary="Revoke an API key (admin); it stops working at once")
def revoke_key(
    request: Request, session: SessionDep, _key: AdminKey, key_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> KeyOut:
    cache: KeyCache = request.app.state.key_cache
    # Emptied once the revocation is committed: emptied before, a request in between could cache the
    # key again, still valid for it.
    event.listen(session, "after_commit", lambda _session: cache.clear(), once=True)
    if not api_keys.revoke(session, key_id):
        known = session.get(ApiKey, key_id)
        if known is None:
            raise not_found(f"no API key {key_id}")
        return _key_out(known)  # already revoked: the same answer again
    key = session.get(ApiKey, key_id)
    assert key is not None
    session.refresh(key)
    return _key_out(key)
