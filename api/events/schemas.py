"""Machine events in and out of the API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas import Timestamp
from services.events import MAX_NOTE_CHARS, MAX_WORK_ORDER_CHARS

NoNul = r"^[^\x00]*$"


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["failure", "maintenance"]
    ts: Timestamp | None = Field(default=None, description="When it happened (RFC 3339); default now.")
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS, pattern=NoNul)] = ""
    work_order_id: Annotated[
        str | None, StringConstraints(min_length=1, max_length=MAX_WORK_ORDER_CHARS, pattern=NoNul)
    ] = Field(default=None, description="The MES work order, if any.")


class EventOut(BaseModel):
    id: int
    machine: str = Field(description="The machine's path.")
    kind: str
    ts: Timestamp
    note: str
    work_order_id: str | None
    created_by: str | None = Field(description="Name of the API key (or import) that recorded it.")
    created_at: Timestamp
