"""Schemas shared by every feature: the error body, RFC 3339 timestamps, bounded text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _to_utc(value: datetime) -> datetime:
    # Far-off years would overflow date arithmetic (end - 24 h) instead of answering 422.
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"timestamp must be between {EARLIEST.year} and {LATEST.year}")
    return utc


Timestamp = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An RFC 3339 timestamp with an offset (or epoch seconds), normalised to UTC."""

# PostgreSQL text cannot hold NUL: refuse it at the edge (422) rather than fail in the driver.
NameText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]


class ErrorOut(BaseModel):
    error: str = Field(description="Short machine-readable code, e.g. not_found.")
    detail: str | list[str] = Field(description="What went wrong, for a person.")


CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Conflicts with what exists (the detail says what)."}
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body could not be read (for example not UTF-8 JSON)."},
    401: {"model": ErrorOut, "description": "No API key, or an unknown or revoked one."},
    403: {"model": ErrorOut, "description": "The key's role may not do this."},
    404: {"model": ErrorOut, "description": "No such machine (or sensor)."},
    422: {"model": ErrorOut, "description": "The request is invalid; detail lists why."},
}
