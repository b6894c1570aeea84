"""Answers of the heaviest reads, kept per data version and served again until the data changes.

Fleet health and alert lists are asked for far more often than they change (the scoring and alert
jobs write every minute or few; dashboards and MES systems poll all the time). Each answer is kept
under the database's fleet data version (db.repositories.data_versions: a number that triggers move
on every committed write to the tables behind these answers), so a request pays one small query to
learn the version and, when it has not moved, gets the JSON bytes written before. The version is read
before the data, so an answer built while a write commits is kept under the older number and never
outlives it. Each API process keeps its own answers, the least recently used dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.responses import JSON, json_response
from db.repositories.data_versions import fleet_version


class AnswerCache:
    """At most `max_entries` answers (JSON bytes) by (data version, request); 0 keeps none."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self._lock = threading.Lock()  # routes run in the thread pool

    def json(self, session: Session, request_key: str, make: Callable[[], BaseModel]) -> Response:
        """The answer for `request_key` at the current data version, made by `make` if not kept."""
        version = fleet_version(session) if self.max_entries else None
        if version is None:
            return json_response(make())
        key = (version, request_key)
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
        if body is None:
            body = make().model_dump_json().encode()
            with self._lock:
                self._entries[key] = body
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return Response(body, media_type=JSON)


class CachedAnswer:
    """The request's answer through the app's AnswerCache (a route dependency)."""

    def __init__(self, cache: AnswerCache, request_key: str) -> None:
        self.cache = cache
        self.request_key = request_key

    def json(self, session: Session, make: Callable[[], BaseModel], *, cacheable: bool = True) -> Response:
        if not cacheable:
            return json_response(make())
        return self.cache.json(session, self.request_key, make)


async def cached_answer(request: Request) -> CachedAnswer:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return CachedAnswer(request.app.state.answer_cache, f"{request.scope['path']}?{query}")


CachedAnswerDep = Annotated[CachedAnswer, Depends(cached_answer)]
