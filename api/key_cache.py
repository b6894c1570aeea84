"""API keys checked recently, so that a busy client's every request need not ask the database.

Entries live `api_key_cache_s` seconds and hold a detached copy of the key (never the plaintext:
they are found by the key's SHA-256). Revoking through this API empties the cache at once; a key
revoked elsewhere (the CLI, another API process) stops working when its entry expires.
"""

from __future__ import annotations

import threading
import time

from db.tables import ApiKey
from services.api_keys import hash_key


class KeyCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()

    def get(self, plaintext: str) -> ApiKey | None:
        if self.ttl_s <= 0:
            return None
        digest = hash_key(plaintext)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[digest]
                return None
            return entry[1]

    def put(self, plaintext: str, key: ApiKey) -> None:
        if self.ttl_s <= 0:
            return
        copy = ApiKey(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            key_hash=key.key_hash,
            role=key.role,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )
        with self._lock:
            if len(self._entries) > 10_000:  # unknown keys are not cached; this bounds the known ones
                self._entries.clear()
            self._entries[key.key_hash] = (time.monotonic() + self.ttl_s, copy)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
