"""'Working on it': when handling takes longer than ~1 s, open a streaming card (`bot.core.responder.open_stream`:
Feishu CardKit, DingTalk AI card, else a card edited in place), stream partial answers (LLM tokens) into it, and
end it with the first real reply, buttons included. The stream is always ended: with the reply, with "Done"
when the turn sent nothing, or with a failure text when the turn failed or was cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from bot.core.i18n import Lang, tr
from bot.core.responder import CardStream, Responder, open_stream
from bot.core.tasks import TaskTracker
from bot.render.model import Card, Markdown

log = logging.getLogger(__name__)


class ProgressResponder:
    def __init__(self, inner: Responder, lang: Lang, *, delay: float = 1.0, tracker: TaskTracker | None = None) -> None:
        self._inner = inner
        self._tracker = tracker
        self._lang = lang
        self._delay = delay
        self._stream: CardStream | None = None  # the working card, once opened
        self._used = False  # the working card was ended by a reply
        self._placed = False
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._last = 0.0

    @property
    def _ref(self) -> str | None:
        return self._stream.ref if self._stream is not None else None

    def start(self) -> None:
        if self._delay > 0:
            self._last = asyncio.get_running_loop().time()
            # scoped to this event's handling: cancelled in stop(), so it never outlives the handler
            if self._tracker is not None:
                self._timer = self._tracker.spawn(self._wait(), name="progress-timer")
            else:
                self._timer = asyncio.create_task(self._wait(), name="progress-timer")

    def _title(self) -> str:
        return tr(self._lang, "处理中…", "Working on it…")

    async def _place(self, text: str) -> None:
        """Open the working card showing `text` (lock held)."""
        self._placed = True
        try:
            self._stream = await open_stream(self._inner, self._title(), lang=self._lang)
            await self._stream.push(text)
        except Exception:  # a placeholder is a nicety; never fail the turn for it
            log.exception("could not post the progress card")

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            left = self._last + self._delay - loop.time()
            if left > 0:
                await asyncio.sleep(left)
                continue
            async with self._lock:
                if not self._placed:
                    await self._place(tr(self._lang, "正在查询集群，请稍候。", "Asking the cluster, one moment."))
            return

    def _stamped(self, card: Card) -> Card:
        # the turn's language (the engine's rule, bot.core.typed_lang) decides how the channel renders the card:
        # its truncation markers and the language its buttons carry, even when the message was "/pods dev"
        if card.meta.get("lang"):
            return card
        return dataclasses.replace(card, meta={**card.meta, "lang": self._lang.value})

    async def send(self, card: Card) -> str | None:
        card = self._stamped(card)
        async with self._lock:
            self._last = asyncio.get_running_loop().time()
            if self._stream is not None and not self._used:
                self._used = True
                return await self._stream.close(card)
            return await self._inner.send(card)

    async def partial(self, text: str) -> None:
        """Stream a partial answer (LLM) into the working card; it opens at once if it is not there yet."""
        if not text.strip():
            return
        async with self._lock:
            if self._used:
                return
            if not self._placed and self._delay > 0:  # progress off (piped console): only the answer
                await self._place(text)
            elif self._stream is not None:
                await self._stream.push(text)

    async def stream(self, title: str, *, lang: Lang) -> CardStream:
        """A stream of the handler's own (e.g. a followed log): the inner responder's, native where it can."""
        async with self._lock:
            self._placed = True  # no working card appears from now on (one that is there is ended by stop())
        return await open_stream(self._inner, title, lang=lang)

    async def update(self, ref: str, card: Card) -> None:
        await self._inner.update(ref, self._stamped(card))

    async def toast(self, text: str) -> None:
        await self._inner.toast(text)

    async def stop(self, *, failed: bool = False) -> None:
        """End the turn's working card: "Done" if no reply replaced it, the failure when the turn failed."""
        async with self._lock:  # waits for a working card being opened right now: it is ended below, not lost
            self._placed = True
            stream, self._used = (None if self._used else self._stream), True
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        if stream is None:
            return
        try:
            if failed:  # the dispatcher's error card follows with the reference
                await stream.fail(
                    tr(self._lang, "处理失败，原因见下一条消息。", "This failed; the reason follows below.")
                )
            else:
                await stream.close(
                    Card(
                        title=tr(self._lang, "完成", "Done"), blocks=(Markdown(tr(self._lang, "已处理。", "Handled.")),)
                    )
                )
        except Exception:  # the turn's outcome is already decided; this card is cosmetic
            log.exception("could not end the progress card")
