"""Keyset pagination: a page of items and an opaque cursor that names the last item returned."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from api.errors import invalid
from api.schemas import Timestamp

T = TypeVar("T")
MAX_ID = 2**63 - 1
DEFAULT_PAGE = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


def page_size(limit: int | None, max_page: int, what: str) -> int:
    """The requested page size (default 100, or max_page when smaller); 422 above max_page."""
    if limit is None:
        return min(DEFAULT_PAGE, max_page)
    if limit > max_page:
        raise invalid(f"query.limit: at most {max_page} {what} per page")
    return limit


def encode_cursor(*keys: int | str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(keys)).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        keys = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise invalid("query.cursor: not a cursor this API gave out") from exc
    if not isinstance(keys, list):
        raise invalid("query.cursor: not a cursor this API gave out")
    return keys


def _valid_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise invalid("query.cursor: not a cursor this API gave out")
    return value


def decode_id_cursor(cursor: str | None) -> int:
    """The id after which the next page starts (0: from the beginning)."""
    if cursor is None:
        return 0
    keys = _decode(cursor)
    if len(keys) != 1:
        raise invalid("query.cursor: not a cursor this API gave out")
    return _valid_id(keys[0])


def decode_time_id_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (timestamp, id) of the last item of the previous page, or None for the first page."""
    if cursor is None:
        return None
    keys = _decode(cursor)
    if len(keys) != 2 or not isinstance(keys[0], str):
        raise invalid("query.cursor: not a cursor this API gave out")
    try:
        ts = datetime.fromisoformat(keys[0])
    except ValueError as exc:
        raise invalid("query.cursor: not a cursor this API gave out") from exc
    if ts.tzinfo is None:
        raise invalid("query.cursor: not a cursor this API gave out")
    return ts, _valid_id(keys[1])


def decode_name_cursor(cursor: str | None) -> str | None:
    """The name (a job's, a rule's) of the last item of the previous page, or None for the first page."""
    if cursor is None:
        return None
    keys = _decode(cursor)
    if len(keys) != 1 or not isinstance(keys[0], str) or not keys[0] or "\x00" in keys[0]:
        raise invalid("query.cursor: not a cursor this API gave out")
    return keys[0]


@dataclass(frozen=True)
class TimeRange:
    """A list's time-range filter: items at or after `since` and before `until` (either may be open)."""

    since: datetime | None
    until: datetime | None


def time_range(
    since: Annotated[
        Timestamp | None, Query(description="Only items at or after this time (RFC 3339).")
    ] = None,
    until: Annotated[Timestamp | None, Query(description="Only items before this time (RFC 3339).")] = None,
) -> TimeRange:
    if since is not None and until is not None and since >= until:
        raise invalid("query.since: must be before until")
    return TimeRange(since, until)


TimeRangeDep = Annotated[TimeRange, Depends(time_range)]
