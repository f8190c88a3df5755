"""In-process copies of cache entries (`Keys.cache`), so a listing that serves choices on every message (the
namespace list behind `/pods dev`, the pods behind "cart-service 的日志") costs no Redis round trip each time.

A copy is trusted for at most `LOCAL_SECONDS` (and never past the Redis entry's own TTL when this process wrote
it): another replica's refresh reaches this one within that time. Deleting cache keys here (a refresh, a NOT_FOUND
recovery, `/refresh`) drops the copies at once. Results the user asks for are not served from here: they are
fetched fresh, as before. Entries are kept as JSON text and decoded per hit, so no caller can change another's
copy. At most `MAX_ENTRIES`, oldest out first.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable
from typing import Any

LOCAL_SECONDS = 5.0
MAX_ENTRIES = 512


class HotCache:
    def __init__(
        self,
        *,
        local_seconds: float = LOCAL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._local = local_seconds
        self._max = max(1, max_entries)
        self._clock = clock
        self._entries: dict[str, tuple[float, str]] = {}  # key -> (expires at, JSON text)

    def get(self, key: str) -> Any | None:
        """The copy of `key` (decoded afresh), or None."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        if self._clock() >= hit[0]:
            del self._entries[key]
            return None
        return json.loads(hit[1])

    def put(self, key: str, text: str, ttl: float | None = None) -> None:
        """Remember `text` for `LOCAL_SECONDS`, or `ttl` if shorter (the Redis entry's, when we wrote it)."""
        if key not in self._entries and len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # dicts keep insertion order: the oldest goes
        self._entries.pop(key, None)
        life = self._local if ttl is None else min(ttl, self._local)
        self._entries[key] = (self._clock() + life, text)

    def drop(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def drop_matching(self, pattern: str) -> None:
        """Drop the copies whose keys match a Redis glob (`SCAN MATCH`; fnmatch reads the patterns built in
        `bot.store.keys` the same way)."""
        for key in [k for k in self._entries if fnmatch.fnmatchcase(k, pattern)]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()
