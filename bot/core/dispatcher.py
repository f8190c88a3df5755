"""Routes inbound events to the handler: one serial worker per conversation state key (order kept inside a
conversation, parallel across them), redeliveries dropped by event id (in the store, so across replicas too),
and no exception ever escapes to an adapter or reaches the user as a stack trace."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.cards import Card, Markdown, Tone
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent, state_key
from bot.core.i18n import Lang, detect_lang, tr
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.store import Store

log = logging.getLogger(__name__)

Handler = Callable[[InboundEvent, Responder], Awaitable[None]]

DEDUPE_TTL_SECONDS = 24 * 3600  # platforms redeliver for minutes to hours; a day covers them all


@dataclass
class _Lane:
    queue: asyncio.Queue[tuple[InboundEvent, Responder]]
    task: asyncio.Task[None] | None = None


def event_lang(event: InboundEvent) -> Lang:
    if isinstance(event, MessageEvent):
        return event.lang or detect_lang(event.text)
    return Lang.ZH


def error_card(lang: Lang, ref: str) -> Card:
    return Card(
        title=tr(lang, "出了点问题", "Something went wrong"),
        tone=Tone.DANGER,
        blocks=(
            Markdown(
                tr(
                    lang,
                    "处理这条消息时我这边出错了，集群没有任何改动。请稍后再试；如果一直这样，请把编号 `{ref}` 告诉管理员。",
                    "I hit an error on my side while handling this; nothing in the cluster was changed. "
                    "Please try again; if it keeps happening, give the admin the reference `{ref}`.",
                    ref=ref,
                )
            ),
        ),
    )


class Dispatcher:
    def __init__(self, *, store: Store, handler: Handler, tracker: TaskTracker) -> None:
        self._store = store
        self._handler = handler
        self._tracker = tracker
        self._lanes: dict[str, _Lane] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    async def submit(self, event: InboundEvent, responder: Responder) -> bool:
        """Queue an event. Returns False (and does nothing) for a redelivery of an event already taken."""
        platform = event.conversation.platform.value
        if not await self._store.first_seen(self._store.keys.seen(f"{platform}:{event.event_id}"), DEDUPE_TTL_SECONDS):
            log.info("dropping redelivered event %s", event.event_id)
            return False
        key = state_key(event.conversation, event.sender)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(asyncio.Queue())
        lane.queue.put_nowait((event, responder))
        self._idle.clear()
        if lane.task is None or lane.task.done():
            lane.task = self._tracker.spawn(self._work(key, lane), name=f"lane:{key}")
        return True

    async def _work(self, key: str, lane: _Lane) -> None:
        while True:
            try:
                event, responder = lane.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            try:
                await self._handler(event, responder)
            except Exception:  # the boundary: log it, tell the user kindly, keep serving
                ref = uuid.uuid4().hex[:8]
                log.exception("handler failed (ref %s) for %s", ref, type(event).__name__)
                try:
                    lang = event_lang(event)
                    if isinstance(event, CardActionEvent):
                        await responder.toast(tr(lang, "操作失败（编号 {ref}）", "That failed (ref {ref})", ref=ref))
                    await responder.send(error_card(lang, ref))
                except Exception:  # the channel itself is failing; logged, nothing more to do
                    log.exception("could not report failure %s to the chat", ref)
        if self._lanes.get(key) is lane and lane.queue.empty():
            del self._lanes[key]
        if not self._lanes:
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every queued event has been handled (console end of input, tests, shutdown)."""
        while self._lanes:
            await self._idle.wait()
            await asyncio.sleep(0)
