"""A bounded queue written in batches by a background task: many entries per Redis round trip, off the path
of the message that made them.

Used for what may land a moment later but must not be lost silently: the audit trail's allowed reads
(`bot.approvals.audit`) and the listing cache's writes (`bot.store.store`, best effort by construction). The
queue is bounded (a stuck Redis cannot grow memory without limit); an entry that does not fit is refused, the
caller counts it, and the first refusal of a streak is logged. One task at a time drains the queue; it waits
`GATHER_SECONDS` for company before each batch, so the next messages' entries share the round trip and the
batches grow with the load instead of the round trips. `flush` writes everything queued now.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PENDING = 10_000  # seconds of traffic at the target rate; a few MiB at most
BATCH = 500  # entries per round trip (and per file append)
GATHER_SECONDS = 0.05  # a drain waits this long for company: the reads of the next messages join its batch


class Batcher(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        max_pending: int = MAX_PENDING,
        batch: int = BATCH,
        gather: float = GATHER_SECONDS,
        name: str = "batch",
    ) -> None:
        self._write = write
        self._max = max(1, max_pending)
        self._batch = max(1, batch)
        self._gather = max(0.0, gather)
        self._now = asyncio.Event()  # set by `flush`: stop gathering, write now
        self._queue: deque[T] = deque()
        self._task: asyncio.Task[None] | None = None
        self._refusing = False
        self._name = name
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def put(self, item: T) -> bool:
        """Queue one entry (no I/O). False: the queue is full and the entry was not kept (count it)."""
        if len(self._queue) >= self._max:
            self.dropped += 1
            if not self._refusing:
                log.error("%s queue full (%d entries): dropping entries until it drains", self._name, self._max)
            self._refusing = True
            return False
        if self._refusing:
            log.warning("%s queue accepts entries again (%d dropped so far)", self._name, self.dropped)
            self._refusing = False
        self._queue.append(item)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name=self._name)
        return True

    async def _drain(self) -> None:
        while self._queue:
            if self._gather and not self._now.is_set() and len(self._queue) < self._batch:
                try:  # let the next messages' reads join this batch (a flush ends the wait)
                    async with asyncio.timeout(self._gather):
                        await self._now.wait()
                except TimeoutError:
                    pass
            n = min(self._batch, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
            try:
                await self._write(batch)
            except Exception:  # the writer counts and reports its own failures; this keeps the drain alive
                log.exception("%s: writing %d entries failed", self._name, n)

    async def flush(self) -> None:
        """Return once everything queued before the call has been written (or its write failed)."""
        self._now.set()
        try:
            task = self._task
            if task is not None and not task.done():
                await asyncio.shield(task)
            if self._queue:
                await self._drain()
        finally:
            self._now.clear()
