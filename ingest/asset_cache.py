"""Machine ids and sensor positions that an ingestor has seen committed, so that a batch of known
machines needs no lookups.

Both only ever grow (machines are retired, never deleted; a sensor keeps its position), so a cached
entry never goes stale; a miss is looked up. Each transaction works through an `AssetView`: what it
learns joins the shared cache only after its transaction has committed (`AssetView.commit`), so a
rolled-back registration is never remembered. The ingestor's writer and drainer threads share one
cache.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy.orm import Session

from db.repositories import assets


class AssetCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._positions: dict[int, dict[str, int]] = {}

    def view(self) -> AssetView:
        return AssetView(self)

    def _merge(self, ids: dict[str, int], positions: dict[int, dict[str, int]]) -> None:
        with self._lock:
            self._ids.update(ids)
            for machine_id, names in positions.items():
                self._positions.setdefault(machine_id, {}).update(names)


class AssetView:
    """One transaction's window on the cache."""

    def __init__(self, cache: AssetCache) -> None:
        self._cache = cache
        self._ids: dict[str, int] = {}
        self._positions: dict[int, dict[str, int]] = {}

    def machine_ids(self, session: Session, paths: Iterable[str]) -> dict[str, int]:
        wanted = set(paths)
        with self._cache._lock:
            known = {path: self._cache._ids[path] for path in wanted if path in self._cache._ids}
        missing = wanted - known.keys()
        if missing:
            found = assets.machine_ids_by_path(session, missing)
            self._ids.update(found)
            known.update(found)
        return known

    def positions(self, session: Session, machine_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        wanted = set(machine_ids)
        with self._cache._lock:
            known = {m: dict(self._cache._positions[m]) for m in wanted if m in self._cache._positions}
        missing = wanted - known.keys()
        if missing:
            found = assets.sensor_positions_of(session, missing)
            self._positions.update({m: dict(names) for m, names in found.items()})
            known.update(found)
        return known

    def learn_machine(self, path: str, machine_id: int) -> None:
        self._ids[path] = machine_id

    def learn_positions(self, machine_id: int, positions: dict[str, int]) -> None:
        self._positions.setdefault(machine_id, {}).update(positions)

    def commit(self) -> None:
        """Call once the transaction has committed."""
        self._cache._merge(self._ids, self._positions)
