"""Messages answered vs sent while Redis fails (a script: `python -m tests.bench.bench_faults [MESSAGES]`).

Two bot replicas (each its own store client, gateway and dispatcher; the real engine, gate and sandbox API
server) receive steady traffic (`/pods dev` from 24 users in 4 chats, ~5 messages/s). Two runs:
- `restart`: a redis-server of its own is SIGKILLed a third of the way in and started again 6 s later;
- `failover`: 1 master + 1 replica + 3 sentinels; `SENTINEL FAILOVER` a third of the way in.
For each: sent, answered (a real answer card), reported as not handled (an explicit card), silent (nothing at
all: must be 0), how many got the "storage unavailable, I'll keep trying" notice first, the slowest answer, and
the time from Redis being back to the first answer after it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import Bot, build_bot
from bot.core.events import Conversation, MessageEvent, Platform, Sender
from bot.render.model import Card
from tests.faults.replicas import NOT_ANSWERS, settings_for
from tests.support.redis_topology import single_server, start_sentinel
from tools.sandbox import start_sandbox_thread

RATE_PER_SECOND = 5.0


@dataclass
class Timed:
    sent_at: float
    cards: list[tuple[float, Card]] = field(default_factory=list)

    async def send(self, card: Card) -> str | None:
        self.cards.append((time.monotonic(), card))
        return f"c{len(self.cards)}"

    async def update(self, ref: str, card: Card) -> None:
        self.cards.append((time.monotonic(), card))

    async def toast(self, text: str) -> None:
        pass

    def answer_at(self) -> float | None:
        return next((t for t, c in self.cards if not c.title.startswith(NOT_ANSWERS)), None)


async def traffic(bots: list[Bot], n: int, fault_at: int, fault: object) -> tuple[list[Timed], float]:
    """Send `n` messages at a steady rate; run `fault()` (a coroutine function returning the moment Redis is
    back) when message `fault_at` goes out. Returns the recorders and that moment."""
    recs: list[Timed] = []
    back = [0.0]
    fault_task: asyncio.Task[None] | None = None

    async def run_fault() -> None:
        assert callable(fault)
        back[0] = await fault()

    for i in range(n):
        if i == fault_at:
            fault_task = asyncio.create_task(run_fault())
        rec = Timed(time.monotonic())
        recs.append(rec)
        event = MessageEvent(
            f"b-{uuid.uuid4().hex}",
            Conversation(Platform.FEISHU, f"oc_chat{i % 4}", True),
            Sender(f"ou_user{i % 24}"),
            "/pods dev",
        )
        await bots[i % 2].dispatcher.submit(event, rec)
        await asyncio.sleep(1 / RATE_PER_SECOND)
    if fault_task is not None:
        await fault_task
    for bot in bots:
        await bot.dispatcher.drain()
    return recs, back[0]


def report(name: str, recs: list[Timed], back: float) -> None:
    answered = [r for r in recs if r.answer_at() is not None]
    not_handled = [r for r in recs if r.answer_at() is None and r.cards]
    silent = [r for r in recs if not r.cards]
    noticed = [r for r in recs if any(c.title == "Storage is unavailable" for _, c in r.cards)]
    slowest = max(((r.answer_at() or 0) - r.sent_at for r in answered), default=0.0)
    after = sorted(t for r in answered if (t := r.answer_at()) is not None and t >= back)
    first_after = (after[0] - back) if after and back else float("nan")
    print(
        f"{name:9} sent {len(recs):3}  answered {len(answered):3}  reported-not-handled {len(not_handled):2}  "
        f"silent {len(silent)}  told-storage-unavailable-first {len(noticed):2}  slowest answer {slowest:5.1f}s  "
        f"first answer after Redis was back {first_after:4.1f}s",
        flush=True,
    )


async def scenario(name: str, url: str, fault: object, n: int, sandbox: object, tmp: Path) -> None:
    prefix = f"kdbench-{uuid.uuid4().hex[:8]}"
    bots = [build_bot(settings_for(url, sandbox, prefix, tmp)) for _ in range(2)]
    try:
        for bot in bots:
            await bot.start()
        recs, back = await traffic(bots, n, n // 3, fault)
        report(name, recs, back)
    finally:
        for bot in bots:
            await bot.close()


async def main(n: int) -> None:
    sandbox = start_sandbox_thread(seed="demo", port=0)
    tmp = Path(tempfile.mkdtemp(prefix="kubeduty-bench-faults-"))
    try:
        server = single_server()

        async def restart() -> float:
            server.kill()
            await asyncio.sleep(6.0)
            await asyncio.to_thread(server.start)
            return time.monotonic()

        try:
            await scenario("restart", server.url, restart, n, sandbox, tmp)
        finally:
            server.stop()

        setup = await asyncio.to_thread(start_sentinel)

        async def failover() -> float:
            await asyncio.to_thread(setup.failover)
            return time.monotonic()

        try:
            await scenario("failover", setup.url, failover, n, sandbox, tmp)
        finally:
            setup.stop()
    finally:
        sandbox.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 60))
