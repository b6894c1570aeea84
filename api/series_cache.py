"""Sealed stretches of bucketed readings, kept as the JSON the API sends, in each API process.

A day of 1-minute buckets is 1,440 points for PostgreSQL to read and write as JSON on every request,
though all but its last minutes never change: buckets before the rollups' sealed watermark are final
until a backfill or retention gives the rollups a new version (see db.rollups). Dashboards refresh the
same sensors' last 24 hours again and again, and MES systems poll them. So the sealed part of a series
is kept here in pieces of one hour (of 1-minute buckets) or one day (of 1-hour buckets), under that
version; a request asks the database for the pieces not kept and for its live edges only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from db.repositories import rollups as rollups_repo
from db.rollups import SealedState, ceil_to, floor_to

FRAGMENT_SPANS = {"1m": timedelta(hours=1), "1h": timedelta(days=1)}
ENTRY_OVERHEAD_BYTES = 200  # the key, the string's header and the ordered dict's links

# (rollups version, machine id, sensor position, bucket, start of the piece)
_Key = tuple[int, int, int, str, datetime]


class SeriesCache:
    """Pieces of bucketed series up to `max_bytes` in all, the least recently used dropped first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._pieces: OrderedDict[_Key, str] = OrderedDict()
        self._lock = threading.Lock()  # routes run in the thread pool

    def points_json(
        self,
        session: Session,
        machine_id: int,
        position: int,
        first: datetime,
        stop: datetime,
        bucket: str,
        sealed: SealedState,
    ) -> str:
        """What `rollups_repo.bucketed_series_json` answers for [first, stop) without a limit: the JSON
        array of the buckets, its sealed whole pieces from here when kept. `sealed`: the rollups' state
        as read before (`rollups_repo.sealed_state`)."""
        span = FRAGMENT_SPANS[bucket]
        if not self.max_bytes or sealed.until is None:
            return rollups_repo.bucketed_series_json(session, machine_id, position, first, stop, bucket)
        whole_first = ceil_to(first, span)
        whole_stop = min(floor_to(stop, span), floor_to(sealed.until, span))
        if whole_first >= whole_stop:
            return rollups_repo.bucketed_series_json(session, machine_id, position, first, stop, bucket)
        series = (session, machine_id, position)
        pieces = self._sealed(*series, sealed.version, whole_first, whole_stop, bucket)
        if first < whole_first:
            pieces.insert(0, rollups_repo.bucketed_series_json(*series, first, whole_first, bucket)[1:-1])
        if whole_stop < stop:
            pieces.append(rollups_repo.bucketed_series_json(*series, whole_stop, stop, bucket)[1:-1])
        return "[" + ",".join(piece for piece in pieces if piece) + "]"

    def _sealed(
        self,
        session: Session,
        machine_id: int,
        position: int,
        version: int,
        first: datetime,
        stop: datetime,
        bucket: str,
    ) -> list[str]:
        span = FRAGMENT_SPANS[bucket]
        starts = [first + k * span for k in range((stop - first) // span)]
        keys = [(version, machine_id, position, bucket, start) for start in starts]
        with self._lock:
            kept = {key: self._pieces[key] for key in keys if key in self._pieces}
            for key in kept:
                self._pieces.move_to_end(key)
        missing = [key for key in keys if key not in kept]
        if missing:
            fetched = rollups_repo.sealed_fragments_json(
                session, machine_id, position, missing[0][-1], missing[-1][-1] + span, bucket, span
            )
            for key in missing:
                kept[key] = fetched[key[-1]]
            self._keep({key: kept[key] for key in missing})
        return [kept[key] for key in keys]

    def _keep(self, pieces: dict[_Key, str]) -> None:
        with self._lock:
            for key, piece in pieces.items():
                old = self._pieces.pop(key, None)
                if old is not None:
                    self.size -= len(old) + ENTRY_OVERHEAD_BYTES
                self._pieces[key] = piece
                self.size += len(piece) + ENTRY_OVERHEAD_BYTES
            while self.size > self.max_bytes and self._pieces:
                _, dropped = self._pieces.popitem(last=False)
                self.size -= len(dropped) + ENTRY_OVERHEAD_BYTES


async def app_series_cache(request: Request) -> SeriesCache:
    """The app's SeriesCache (a route dependency; async: no thread-pool hop)."""
    cache: SeriesCache = request.app.state.series_cache
    return cache


SeriesCacheDep = Annotated[SeriesCache, Depends(app_series_cache)]
