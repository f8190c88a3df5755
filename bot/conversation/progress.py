"""'Working on it': when handling takes longer than ~1 s, post a placeholder card, then replace it in place
with the first real reply (platforms that cannot update just get the reply as a new card)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render.model import Card, Markdown

log = logging.getLogger(__name__)


class ProgressResponder:
    def __init__(self, inner: Responder, lang: Lang, *, delay: float = 1.0, tracker: TaskTracker | None = None) -> None:
        self._inner = inner
        self._tracker = tracker
        self._lang = lang
        self._delay = delay
        self._ref: str | None = None  # the placeholder, once posted
        self._used = False  # the placeholder was replaced by a reply
        self._placed = False
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._last = 0.0

    def start(self) -> None:
        if self._delay > 0:
            self._last = asyncio.get_running_loop().time()
            # scoped to this event's handling: cancelled in stop(), so it never outlives the handler
            if self._tracker is not None:
                self._timer = self._tracker.spawn(self._wait(), name="progress-timer")
            else:
                self._timer = asyncio.create_task(self._wait(), name="progress-timer")

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            left = self._last + self._delay - loop.time()
            if left > 0:
                await asyncio.sleep(left)
                continue
            async with self._lock:
                if not self._placed:
                    self._placed = True
                    card = Card(
                        title=tr(self._lang, "处理中…", "Working on it…"),
                        blocks=(Markdown(tr(self._lang, "正在查询集群，请稍候。", "Asking the cluster, one moment.")),),
                    )
                    try:
                        self._ref = await self._inner.send(card)
                    except Exception:  # a placeholder is a nicety; never fail the turn for it
                        log.exception("could not post the progress card")
            return

    async def send(self, card: Card) -> str | None:
        async with self._lock:
            self._last = asyncio.get_running_loop().time()
            if self._ref is not None and not self._used:
                self._used = True
                await self._inner.update(self._ref, card)
                return self._ref
            return await self._inner.send(card)

    async def partial(self, text: str) -> None:
        """Stream a partial answer (LLM) into the working card, once it is posted."""
        async with self._lock:
            if self._ref is not None and not self._used and text:
                shown = text if len(text) <= 1500 else "…" + text[-1500:]
                await self._inner.update(
                    self._ref, Card(title=tr(self._lang, "处理中…", "Working on it…"), blocks=(Markdown(shown),))
                )

    async def update(self, ref: str, card: Card) -> None:
        await self._inner.update(ref, card)

    async def toast(self, text: str) -> None:
        await self._inner.toast(text)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        if self._ref is not None and not self._used:
            await self._inner.update(
                self._ref,
                Card(title=tr(self._lang, "完成", "Done"), blocks=(Markdown(tr(self._lang, "已处理。", "Handled.")),)),
            )
