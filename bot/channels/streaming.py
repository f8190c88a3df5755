"""The platform-neutral half of a native card stream: coalescing, pacing and rate windows.

A producer (LLM tokens, log lines) pushes the whole text as often as it likes; one flusher task per card sends
only the newest text, never sooner than `interval` after the previous update of that card COMPLETED (so the
platform sees at least `interval` between two arrivals however slow a request was), and only when the app-wide
`RateWindow` has room. `close`/`fail` let an update in flight finish first (its sequence stays in order), then
end the stream through the platform's own finalisation. Subclasses (Feishu CardKit, DingTalk AI card) implement
the four wire calls and nothing else.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from bot.core.cards import Card

log = logging.getLogger(__name__)


class RateWindow:
    """Sliding windows shared by every stream of one app/robot: at most `per_second` calls in any second and
    `per_minute` in any minute AS THEY ARRIVE at the platform. A call holds a slot from before it is sent until
    it completed, and counts by its completion time afterwards: a request delayed in a worker thread or on the
    network can then never bunch up with later ones at the far end. `slot()` waits for room, never refuses:
    the newest text simply goes a little later."""

    def __init__(self, *, per_second: int, per_minute: int | None = None) -> None:
        self._limits = [(1.0, per_second)] + ([(60.0, per_minute)] if per_minute else [])
        self._done: collections.deque[float] = collections.deque()  # completion times
        self._inflight = 0
        self._changed = asyncio.Condition()
        self.waited = 0.0  # seconds spent waiting for room (reported by benches)

    def _wait_for(self, now: float) -> float:
        """0: room now; > 0: seconds until the oldest counted call leaves a window (or a slot is released)."""
        longest = max(span for span, _ in self._limits)
        while self._done and self._done[0] <= now - longest:
            self._done.popleft()
        wait = 0.0
        for span, limit in self._limits:
            inside = [t for t in self._done if t > now - span]
            excess = self._inflight + len(inside) - limit + 1
            if excess > 0:
                wait = max(wait, inside[excess - 1] + span - now if excess <= len(inside) else 0.05)
        return wait

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._changed:
            while (wait := self._wait_for(time.monotonic())) > 0:
                self.waited += wait
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wait)
            self._inflight += 1
        try:
            yield
        finally:
            async with self._changed:
                self._inflight -= 1
                self._done.append(time.monotonic())
                self._changed.notify_all()


class NativeStream(ABC):
    """`bot.core.responder.CardStream` with the pacing done here; see the module docstring."""

    def __init__(self, *, interval: float, window: RateWindow) -> None:
        self._interval = interval
        self._window = window
        self._ref: str | None = None
        self._opened = False
        self._pending: str | None = None  # newest text not yet sent
        self._sent: str | None = None
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._last_done = float("-inf")  # when the previous update of this card completed
        self._done = False
        self._ending = False
        self._open_lock = asyncio.Lock()
        self.updates = 0  # text updates sent (for benches and tests)

    @property
    def ref(self) -> str | None:
        return self._ref

    # --- the wire, per platform ---------------------------------------------------------------------------------

    @abstractmethod
    async def _open(self, text: str) -> str | None:
        """Create the streaming card showing `text`, deliver it; returns its ref."""

    @abstractmethod
    async def _put(self, text: str) -> None:
        """One text update of the open stream."""

    @abstractmethod
    async def _finish(self, card: Card) -> None:
        """Close streaming and show `card` (buttons included)."""

    @abstractmethod
    async def _abort(self, text: str) -> None:
        """Close streaming showing `text` as a failure."""

    # --- pacing -------------------------------------------------------------------------------------------------

    async def _paced(self) -> None:
        """Wait until this card may be updated again (the app's room is `self._window.slot()`, per call)."""
        left = self._last_done + self._interval - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)

    def _completed(self) -> None:
        self._last_done = time.monotonic()

    async def _ensure_open(self, text: str) -> bool:
        """Open the card with `text` unless it is open (waits for an opening in progress); True if it did."""
        async with self._open_lock:
            if self._opened:
                return False
            self._opened = True
            async with self._window.slot():
                self._ref = await self._open(text)
            self._sent = text
            self._completed()
            return True

    async def push(self, text: str) -> None:
        if self._done or self._ending or not text.strip():
            return
        try:
            if await self._ensure_open(text) or self._ref is None:
                return  # opened with this text, or there is no card to update (close() posts the answer)
        except Exception:  # no stream card; close() still posts the answer
            log.warning("stream: could not open the streaming card", exc_info=True)
            return
        self._pending = text
        self._wake.set()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop(), name="card-stream-flush")

    async def _flush_loop(self) -> None:
        while not self._ending:
            await self._wake.wait()
            self._wake.clear()
            if self._ending:
                return
            await self._paced()
            text = self._pending
            if self._ending or text is None or text == self._sent:
                continue
            try:
                async with self._window.slot():
                    await self._put(text)
                self._sent = text
                self.updates += 1
            except Exception:  # one lost update: the next push (or the final card) replaces it
                log.warning("stream: update failed", exc_info=True)
            finally:
                self._completed()

    async def _stop_flusher(self) -> None:
        self._ending = True
        self._wake.set()
        task, self._flusher = self._flusher, None
        if task is not None:
            # Let an update in flight complete (its sequence must arrive before ours); the loop then exits.
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self, card: Card) -> str | None:
        if self._done:
            return self._ref
        await self._stop_flusher()
        self._done = True
        async with self._open_lock:
            opened = self._opened and self._ref is not None
        if not opened:
            return await self._send_plain(card)
        await self._finish(card)
        return self._ref

    async def fail(self, text: str) -> None:
        if self._done:
            return
        await self._stop_flusher()
        self._done = True
        if self._opened and self._ref is not None:
            try:
                await self._abort(text)
            except Exception:  # reported by the caller's own error path
                log.warning("stream: could not finalise the failed stream", exc_info=True)

    @abstractmethod
    async def _send_plain(self, card: Card) -> str | None:
        """Nothing was streamed (or the stream could not open): post `card` as an ordinary card."""
