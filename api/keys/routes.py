"""`GET /api/v1/me`: who the request's API key belongs to and its role (the dashboard shows it)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ReadKey

router = APIRouter(tags=["keys"])


class IdentityOut(BaseModel):
    id: int
    name: str
    role: str
    created_at: datetime


@router.get("/me", summary="The calling API key's name and role")
def me(key: ReadKey) -> IdentityOut:
    return IdentityOut(id=key.id, name=key.name, role=key.role, created_at=key.created_at)
