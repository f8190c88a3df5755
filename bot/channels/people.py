"""People's display names, resolved once per person and cached in Redis, then remembered for cards.

Feishu events carry only an open_id, so the contact API (GET /open-apis/contact/v3/users/:user_id) is asked
once; DingTalk messages carry the sender's nick. Either way the name is cached under a TTL (people rename
themselves) and handed to `bot.render.names`, which cards read. A failed lookup is never fatal: the card
shows the id instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.core.events import Platform
from bot.render.names import MAX_NAME_CHARS, display, remember

log = logging.getLogger(__name__)

NAME_TTL = 24 * 3600  # a renamed person shows the new name within a day
MISS_TTL = 600  # an id the contact API could not name is asked again after this, not on every message
MISS_MEMO_SECONDS = 60.0  # an id without a name is not looked up again (not even in Redis) for this long
MISS_MEMO_MAX = 4096
LOOKUP_TIMEOUT = 3.0  # a slow contact API delays the message at most this much; the card then shows the id

Lookup = Callable[[str], Awaitable[str | None]]


class _Keys(Protocol):
    def cache(self, kind: str, scope: str) -> str: ...


class NameCache(Protocol):
    """The part of `bot.store.Store` used here (cache keys: a failed read is a miss, a failed write skipped)."""

    @property
    def keys(self) -> _Keys: ...

    async def get_json(self, key: str) -> Any | None: ...

    async def set_json(self, key: str, value: Any, ttl: int) -> None: ...


class People:
    def __init__(self, platform: Platform, store: NameCache | None, lookup: Lookup | None = None) -> None:
        self._platform = platform
        self._store = store
        self._lookup = lookup
        # one lookup per person at a time: a burst of messages from a new person asks the API once
        self._inflight: dict[str, asyncio.Future[str]] = {}
        # ids with no name, remembered in process briefly: every message of such a person would cost a GET
        self._misses: dict[str, float] = {}

    async def learn(self, user_id: str, name: str = "") -> str:
        """The person's display name (`name` when the platform sent one), cached and remembered; else the id."""
        subject = f"{self._platform.value}:{user_id}"
        clean = " ".join(name.split())[:MAX_NAME_CHARS]
        key = self._store.keys.cache("people", subject) if self._store is not None else ""
        if clean:
            if display(subject) != clean:  # only a new or changed name costs a Redis write
                remember(subject, clean)
                if self._store is not None:
                    await self._store.set_json(key, clean, ttl=NAME_TTL)
            return clean
        if display(subject) != subject:
            return display(subject)
        missed = self._misses.get(subject)
        if missed is not None:
            if time.monotonic() < missed:
                return user_id
            del self._misses[subject]
        running = self._inflight.get(subject)
        if running is not None:
            return await asyncio.shield(running)
        task = asyncio.ensure_future(self._resolve(user_id, subject, key))
        self._inflight[subject] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._inflight.pop(subject, None)
            else:
                task.add_done_callback(lambda _t: self._inflight.pop(subject, None))

    def _missed(self, subject: str) -> None:
        if len(self._misses) >= MISS_MEMO_MAX:  # bounded: the oldest goes first (dicts keep insertion order)
            self._misses.pop(next(iter(self._misses)))
        self._misses[subject] = time.monotonic() + MISS_MEMO_SECONDS

    async def _resolve(self, user_id: str, subject: str, key: str) -> str:
        cached = await self._store.get_json(key) if self._store is not None else None
        if isinstance(cached, str):
            if cached:
                remember(subject, cached)
            else:
                self._missed(subject)
            return cached or user_id
        if self._lookup is None:
            self._missed(subject)
            return user_id
        try:
            found = await asyncio.wait_for(self._lookup(user_id), LOOKUP_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - a name is a nicety: the card falls back to the id
            log.warning("%s: display name of %s unavailable: %s", self._platform.value, user_id, exc)
            self._missed(subject)
            return user_id
        clean = " ".join((found or "").split())[:MAX_NAME_CHARS]
        if self._store is not None:
            await self._store.set_json(key, clean, ttl=NAME_TTL if clean else MISS_TTL)
        if clean:
            remember(subject, clean)
        else:
            self._missed(subject)
        return clean or user_id
