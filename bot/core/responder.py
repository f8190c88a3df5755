"""How handlers talk back: every channel adapter implements `Responder` for the event it is handling.

Streaming is an optional capability (`StreamingResponder`): one card whose text grows (an LLM answer, a long
check, a followed log) and that ends as an ordinary card with its buttons. Handlers never test for it
themselves: `open_stream(responder, ...)` returns the platform's native stream (Feishu CardKit, DingTalk AI
card) or, for responders that cannot stream, `EditStream`, today's behaviour: a card sent once and replaced in
place, throttled and capped so a long stream never exceeds a platform's edit limits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, runtime_checkable

from bot.core.cards import Card, Markdown
from bot.core.i18n import Lang, tr

log = logging.getLogger(__name__)

# Fallback edits: Feishu refuses a 21st PATCH of one message (230072), so a fallback stream stays well below it
# and keeps the last edit for the final card; DingTalk card updates want >= 800 ms between updates of a card.
FALLBACK_MAX_EDITS = 12
FALLBACK_INTERVAL = 3.0
STREAM_TEXT_CHARS = 6_000  # the shown tail of a streamed text; the final card carries the whole, bounded answer


class Responder(Protocol):
    async def send(self, card: Card) -> str | None:
        """Post a new card; returns a reference usable with `update` (None if the platform cannot update)."""

    async def update(self, ref: str, card: Card) -> None:
        """Replace a card posted earlier (or the clicked card) in place."""

    async def toast(self, text: str) -> None:
        """A short transient notice (button presses); a plain message where the platform has no toast."""


class CardStream(Protocol):
    """One card whose text grows, then ends as a normal card. Every method is safe to call at any time, in any
    order, more than once; `push` never raises (a failed update is logged and the next push tries again)."""

    @property
    def ref(self) -> str | None:
        """The card's reference for `Responder.update` once it is posted (None before, or if it cannot be)."""

    async def push(self, text: str) -> None:
        """The WHOLE text so far (not a delta), light markdown as in `Markdown`. Coalesced: the newest text is
        sent at most every platform interval; calls in between only replace what the next update will send."""

    async def close(self, card: Card) -> str | None:
        """End streaming and replace the card with `card` (its buttons included); returns its `ref`. The last
        pushed text is not flushed first: `card` is what stays. After `close`/`fail`, pushes are ignored."""

    async def fail(self, text: str) -> None:
        """End streaming showing `text` as the failure (DingTalk: FAILED state). Idempotent; no-op after close."""


@runtime_checkable
class StreamingResponder(Protocol):
    """A responder that can stream natively. `title` is plain text (escaped by the renderer)."""

    async def stream(self, title: str, *, lang: Lang) -> CardStream: ...


async def open_stream(responder: Responder, title: str, *, lang: Lang) -> CardStream:
    """The platform's native stream when the responder has one, else `EditStream` (send once, then updates)."""
    if isinstance(responder, StreamingResponder):
        return await responder.stream(title, lang=lang)
    return EditStream(responder, title, lang=lang)


def stream_tail(text: str, limit: int = STREAM_TEXT_CHARS) -> str:
    """The newest part of a growing text, marked when its start is cut off."""
    return text if len(text) <= limit else "…" + text[-limit:]


class EditStream:
    """`CardStream` over plain `send`/`update`: the first push posts the card, later pushes replace it at most
    every `interval` seconds and at most `max_edits` times (the rest is coalesced into the final card)."""

    def __init__(
        self,
        responder: Responder,
        title: str,
        *,
        lang: Lang,
        interval: float = FALLBACK_INTERVAL,
        max_edits: int = FALLBACK_MAX_EDITS,
    ) -> None:
        self._responder = responder
        self._title = title
        self._lang = lang
        self._interval = interval
        self._max_edits = max_edits
        self._ref: str | None = None
        self._posted = False
        self._edits = 0
        self._last = float("-inf")
        self._done = False
        self._lock = asyncio.Lock()

    @property
    def ref(self) -> str | None:
        return self._ref

    def _card(self, text: str) -> Card:
        return Card(title=self._title, blocks=(Markdown(stream_tail(text)),))

    async def push(self, text: str) -> None:
        if self._done or not text.strip():
            return
        async with self._lock:
            now = asyncio.get_running_loop().time()
            try:
                if not self._posted:
                    self._posted, self._last = True, now
                    self._ref = await self._responder.send(self._card(text))
                elif self._ref is not None and self._edits < self._max_edits and now - self._last >= self._interval:
                    self._edits, self._last = self._edits + 1, now
                    await self._responder.update(self._ref, self._card(text))
            except Exception:  # a progress update is a nicety; the final card still comes
                log.warning("stream: progress update failed", exc_info=True)

    async def close(self, card: Card) -> str | None:
        async with self._lock:
            if self._done:
                return self._ref
            self._done = True
            if self._ref is not None:
                await self._responder.update(self._ref, card)
                return self._ref
            self._ref = await self._responder.send(card)
            return self._ref

    async def fail(self, text: str) -> None:
        if self._done:
            return
        await self.close(Card(title=tr(self._lang, "出错了", "Failed"), blocks=(Markdown(text),)))
