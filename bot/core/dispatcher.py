"""Routes inbound events to the handler: one serial worker per conversation state key (order kept inside a
conversation, parallel across them), redeliveries dropped by event id (in the store, so across replicas too),
and no exception ever escapes to an adapter or reaches the user as a stack trace.

Nothing is lost without a word once an adapter has acked a frame:
- `submit` does no I/O (an adapter never waits on Redis); the per-user/per-chat rate limit answers a burst with
  one "slow down" notice instead of queueing it;
- the dedupe check runs in the worker, inside the error boundary, and fails open: a rare double answer beats a
  lost message; with `handler_dedupes` the handler checks it (`bot.core.dedupe`) in the same round trip that
  takes the conversation lock and loads the state;
- when Redis is unavailable the user is told once, the event is retried with backoff for a bounded time, and
  then reported as not handled. A turn that already answered is not run again (that would answer twice).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.cards import Card, Markdown, Tone
from bot.core.dedupe import Claim, handing
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent, state_key
from bot.core.i18n import Lang, tr
from bot.core.ratelimit import RateLimiter, Verdict
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.core.typed_lang import typed_lang
from bot.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[InboundEvent, Responder], Awaitable[None]]

DEDUPE_TTL_SECONDS = 24 * 3600  # platforms redeliver for minutes to hours; a day covers them all
OUTAGE_FIRST_RETRY_SECONDS = 1.0
OUTAGE_MAX_BACKOFF_SECONDS = 15.0
NOTICE_TIMEOUT_SECONDS = 10.0  # a notice on the way out (shutdown) must not hold the exit


@dataclass
class _Lane:
    queue: asyncio.Queue[tuple[InboundEvent, Responder]]
    task: asyncio.Task[None] | None = None


def event_lang(event: InboundEvent) -> Lang:
    if isinstance(event, MessageEvent):
        return event.lang or typed_lang(event.text)  # a slash command keeps the default
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


def _notice(lang: Lang, tone: Tone, title: tuple[str, str], body: tuple[str, str]) -> Card:
    return Card(title=tr(lang, *title), tone=tone, blocks=(Markdown(tr(lang, *body)),))


def storage_retrying_card(lang: Lang) -> Card:
    return _notice(
        lang,
        Tone.WARNING,
        ("存储暂时不可用", "Storage is unavailable"),
        (
            "存储暂时不可用，我会继续重试，恢复后马上处理这条消息。",
            "Storage is unavailable; I'll keep trying and handle this message as soon as it is back.",
        ),
    )


def storage_gave_up_card(lang: Lang) -> Card:
    return _notice(
        lang,
        Tone.DANGER,
        ("这条消息没有处理", "This message was not handled"),
        (
            "存储一直不可用，这条消息没有处理，集群没有任何改动。请稍后重新发送。",
            "Storage is still unavailable, so this message was not handled and nothing in the cluster "
            "changed. Please send it again later.",
        ),
    )


def storage_unfinished_card(lang: Lang) -> Card:
    return _notice(
        lang,
        Tone.WARNING,
        ("没有处理完", "Not finished"),
        (
            "存储暂时不可用，这条消息没有处理完（上面的内容可能不完整）。请稍后重新发送。",
            "Storage became unavailable before I finished this message (what is above may be "
            "incomplete). Please send it again later.",
        ),
    )


def slow_down_card(lang: Lang, verdict: Verdict) -> Card:
    seconds = max(1, round(verdict.retry_after))
    if verdict.scope == "chat":
        text = tr(
            lang,
            "这个群里的消息太多了，我先跳过一部分。请 {s} 秒后再发需要我处理的内容。",
            "This chat is sending me messages faster than I can take; I skipped some. "
            "Please send what you need again in {s} s.",
            s=seconds,
        )
    else:
        text = tr(
            lang,
            "你发得太快了，我先跳过了一部分消息。请 {s} 秒后再发需要我处理的内容。",
            "You're sending messages too fast; I skipped some. Please send what you need again in {s} s.",
            s=seconds,
        )
    return Card(title=tr(lang, "请慢一点", "Please slow down"), tone=Tone.WARNING, blocks=(Markdown(text),))


class _Watch:
    """Passes calls through and remembers whether the turn said anything (then it must not run again)."""

    def __init__(self, inner: Responder) -> None:
        self.inner = inner
        self.spoke = False

    async def send(self, card: Card) -> str | None:
        self.spoke = True
        return await self.inner.send(card)

    async def update(self, ref: str, card: Card) -> None:
        self.spoke = True
        await self.inner.update(ref, card)

    async def toast(self, text: str) -> None:
        self.spoke = True
        await self.inner.toast(text)

    def __getattr__(self, name: str) -> object:  # adapter extras (e.g. a click's card ref) pass through
        return getattr(self.inner, name)


class Dispatcher:
    def __init__(
        self,
        *,
        store: Store,
        handler: Handler,
        tracker: TaskTracker,
        limiter: RateLimiter | None = None,
        outage_retry_seconds: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        handler_dedupes: bool = False,
    ) -> None:
        self._store = store
        self._handler_dedupes = handler_dedupes
        self._handler = handler
        self._tracker = tracker
        self._limiter = limiter
        self._outage_retry = outage_retry_seconds
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    async def submit(self, event: InboundEvent, responder: Responder) -> bool:
        """Queue an event; no I/O here. False: refused by the rate limit (the sender is told once)."""
        if self._limiter is not None and event.conversation.platform.value != "console":
            platform = event.conversation.platform.value
            verdict = self._limiter.take(f"{platform}:{event.sender.user_id}", event.conversation.chat_key)
            if not verdict.allowed:
                log.info("rate limit (%s) refused event %s", verdict.scope, event.event_id)
                if verdict.notify:
                    self._tracker.spawn(self._slow_down(event, responder, verdict), name="slow-down")
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

    async def _slow_down(self, event: InboundEvent, responder: Responder, verdict: Verdict) -> None:
        lang = event_lang(event)
        try:
            if isinstance(event, CardActionEvent):
                await responder.toast(
                    tr(lang, "点得太快了，请稍后再试。", "Too many clicks; please try again shortly.")
                )
            else:
                await responder.send(slow_down_card(lang, verdict))
        except Exception:  # the channel itself is failing; logged, nothing more to do
            log.exception("could not send the slow-down notice")

    async def _work(self, key: str, lane: _Lane) -> None:
        while True:
            try:
                event, responder = lane.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            await self._one(event, responder)
        if self._lanes.get(key) is lane and lane.queue.empty():
            del self._lanes[key]
        if not self._lanes:
            self._idle.set()

    async def _first_time(self, event: InboundEvent) -> bool:
        platform = event.conversation.platform.value
        # the conversation-tagged marker: the same key the handler's one-round-trip check uses
        key = self._store.keys.seen(f"{platform}:{event.event_id}", state_key(event.conversation, event.sender))
        try:
            return await self._store.first_seen(key, DEDUPE_TTL_SECONDS)
        except Exception as exc:  # noqa: BLE001 - fail open: a rare double answer beats a lost message
            log.warning("dedupe check failed (%s); handling event %s anyway", type(exc).__name__, event.event_id)
            return True

    async def _one(self, event: InboundEvent, responder: Responder) -> None:
        try:
            if self._handler_dedupes:
                platform = event.conversation.platform.value
                claim = Claim(f"{platform}:{event.event_id}", uuid.uuid4().hex, DEDUPE_TTL_SECONDS)
                with handing(claim):
                    await self._with_outage_retry(event, responder)
                return
            if not await self._first_time(event):
                log.info("dropping redelivered event %s", event.event_id)
                return
            await self._with_outage_retry(event, responder)
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

    async def _with_outage_retry(self, event: InboundEvent, responder: Responder) -> None:
        lang = event_lang(event)
        deadline = self._clock() + self._outage_retry
        delay = OUTAGE_FIRST_RETRY_SECONDS
        told = False
        while True:
            watch = _Watch(responder)
            try:
                await self._handler(event, watch)
                return
            except StoreUnavailable as exc:
                if watch.spoke:
                    # it said something before the store failed: running it again could answer twice (and a click
                    # could act twice, were it not for the approval CAS); say it did not finish instead
                    log.warning("store failed mid-turn (%s); not retrying event %s", exc, event.event_id)
                    await responder.send(storage_unfinished_card(lang))
                    return
                if self._clock() + delay > deadline:
                    log.error("store unavailable for %.0fs; event %s not handled", self._outage_retry, event.event_id)
                    await responder.send(storage_gave_up_card(lang))
                    return
                log.warning("store unavailable (%s); retrying event %s in %.1fs", exc, event.event_id, delay)
                if not told:
                    told = True
                    await responder.send(storage_retrying_card(lang))
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:  # shutting down while waiting for Redis: say it was not handled
                try:
                    async with asyncio.timeout(NOTICE_TIMEOUT_SECONDS):
                        await responder.send(storage_gave_up_card(lang))
                except Exception:  # noqa: BLE001 - leaving anyway; the log says what happened
                    log.warning("could not tell the chat that event %s was not handled", event.event_id)
                raise
            delay = min(OUTAGE_MAX_BACKOFF_SECONDS, delay * 2)

    async def drain(self) -> None:
        """Wait until every queued event has been handled (console end of input, tests, shutdown)."""
        while self._lanes:
            await self._idle.wait()
            await asyncio.sleep(0)
