"""Never a flood: each chat gets at most `budget` new alert cards a minute; groups beyond that are folded into
one digest card per chat, updated in place at most every `flush_seconds` (coalesced), always with the latest
state, so a resolve that arrives in a storm still shows."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from bot.alerts.cards import storm_card
from bot.alerts.outbox import Outbox
from bot.core.i18n import Lang
from bot.core.tasks import TaskTracker
from bot.store import Store

log = logging.getLogger(__name__)

CHAT_DOC_TTL = 24 * 3600
WINDOW_SECONDS = 60.0
MAX_STORM_GROUPS = 5000  # the digest document stays bounded even in a pathological storm


class StormGuard:
    def __init__(
        self,
        *,
        store: Store,
        tracker: TaskTracker,
        outbox: Callable[[], Outbox | None],
        budget: int = 10,
        flush_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._tracker = tracker
        self._outbox = outbox
        self.budget = budget
        self.flush_seconds = flush_seconds
        self._clock = clock
        self._pending: dict[str, asyncio.Task[Any]] = {}
        # One replica's requests for a chat queue here first, so the Redis lock (which polls) is only contended
        # across replicas; a storm in one replica otherwise spends its time in lock back-off.
        self._local: dict[str, asyncio.Lock] = {}
        self.cards_sent = 0  # digest cards created (benchmarks read this)
        self.updates = 0

    @asynccontextmanager
    async def _chat_lock(self, chat_key: str, ttl: float = 10) -> AsyncIterator[None]:
        local = self._local.setdefault(chat_key, asyncio.Lock())
        async with local, self._store.lock(self._store.keys.alert_chat_lock(chat_key), ttl=ttl, wait=20):
            yield

    async def _doc(self, chat_key: str) -> dict[str, Any]:
        raw = await self._store.get_json(self._store.keys.alert_chat(chat_key))
        return raw if isinstance(raw, dict) else {}

    async def take_card(self, chat_key: str) -> bool:
        """True if a new card may be posted in this chat now (and counts it); False = fold into the digest."""
        async with self._chat_lock(chat_key):
            doc = await self._doc(chat_key)
            now = self._clock()
            if now - float(doc.get("w", 0)) >= WINDOW_SECONDS:
                doc["w"], doc["n"] = now, 0
            if int(doc.get("n", 0)) >= self.budget:
                return False
            doc["n"] = int(doc.get("n", 0)) + 1
            await self._store.set_json(self._store.keys.alert_chat(chat_key), doc, CHAT_DOC_TTL)
            return True

    async def fold(self, chat_key: str, lang: Lang, incident_id: str, row: dict[str, str]) -> None:
        """Put (or refresh) a group's row in the chat's digest and schedule a coalesced card update."""
        async with self._chat_lock(chat_key):
            doc = await self._doc(chat_key)
            groups: dict[str, Any] = doc.setdefault("g", {})
            if incident_id in groups or len(groups) < MAX_STORM_GROUPS:
                groups[incident_id] = row
            else:
                doc["over"] = int(doc.get("over", 0)) + 1
            doc.setdefault("ws", self._clock())
            doc["lang"] = lang.value
            await self._store.set_json(self._store.keys.alert_chat(chat_key), doc, CHAT_DOC_TTL)
        if chat_key not in self._pending:
            self._pending[chat_key] = self._tracker.spawn(self._flush_later(chat_key), name=f"storm-flush:{chat_key}")

    async def _flush_later(self, chat_key: str) -> None:
        try:
            await asyncio.sleep(self.flush_seconds)
        finally:
            self._pending.pop(chat_key, None)  # changes from here on schedule another flush
        await self.flush(chat_key)

    async def flush(self, chat_key: str) -> None:
        outbox = self._outbox()
        async with self._chat_lock(chat_key, ttl=30):
            doc = await self._doc(chat_key)
            groups = doc.get("g") or {}
            if not groups:
                return
            lang = Lang(doc.get("lang", "zh"))
            card = storm_card(groups, lang, float(doc.get("ws", self._clock())))
            responder = outbox.responder(chat_key, lang) if outbox is not None else None
            if responder is None:
                log.warning("alerts: no connected platform for %s; storm digest kept in the store", chat_key)
                return
            try:
                if doc.get("ref"):
                    await responder.update(str(doc["ref"]), card)
                    self.updates += 1
                else:
                    ref = await responder.send(card)
                    self.cards_sent += 1
                    if ref:
                        doc["ref"] = ref
                        await self._store.set_json(self._store.keys.alert_chat(chat_key), doc, CHAT_DOC_TTL)
            except Exception:  # a platform hiccup: the next change flushes again with the whole state
                log.exception("alerts: storm digest for %s could not be posted", chat_key)

    async def drain(self) -> None:
        """Flush what is pending now (tests, benchmarks, shutdown)."""
        for chat_key, task in list(self._pending.items()):
            task.cancel()
            self._pending.pop(chat_key, None)
            await self.flush(chat_key)
