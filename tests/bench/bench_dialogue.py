"""The reference dialogue, measured (a script: `python -m tests.bench.bench_dialogue [N]`).

1. K8s API requests (counted by the sandbox) and tool calls during the zh reference dialogue, cold (empty cache)
   and warm (cache filled by the previous run): the target is that only the logs reach the cluster when warm.
2. Per-message engine overhead excluding K8s (time inside tool calls) and LLM (none: rule parser), over N runs
   of the dialogue: median and p99. Real Redis, sandbox over HTTP.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid

from bot.app import Bot, build_bot
from bot.approvals.port import ReadOnlyGate
from bot.core.events import Conversation, MessageEvent, Platform, Sender
from bot.render.model import Card
from bot.settings import load_settings
from bot.store import open_store
from tests.support.redis_server import ensure_redis
from tools.sandbox import SandboxHandle, start_sandbox_thread

DIALOGUE = ["hi，帮我看一下 cart-service 的日志", "我不确定，你列出来吧", "应该在 dev", "v2 那个"]


class Sink:
    def __init__(self) -> None:
        self.cards: list[Card] = []

    async def send(self, card: Card) -> str | None:
        self.cards.append(card)
        return None

    async def update(self, ref: str, card: Card) -> None:
        self.cards.append(card)

    async def toast(self, text: str) -> None:
        pass


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run_dialogue(bot: Bot, user: str, overheads: list[float] | None = None) -> None:
    conv = Conversation(Platform.CONSOLE, "bench")
    sink = Sink()
    for text in DIALOGUE:
        k8s_before = bot.toolbox.k8s_seconds
        start = time.perf_counter()
        await bot.dispatcher.submit(MessageEvent(uuid.uuid4().hex, conv, Sender(user), text), sink)
        await bot.dispatcher.drain()
        total = time.perf_counter() - start
        if overheads is not None:
            overheads.append(total - (bot.toolbox.k8s_seconds - k8s_before))
    assert "v2.0.0-canary" in str(sink.cards[-1].blocks), "the dialogue did not end in the v2 logs"


async def counted(bot: Bot, sandbox: SandboxHandle, user: str) -> tuple[int, int, list[str]]:
    sandbox.cluster.reset_requests()
    calls = bot.toolbox.k8s_calls
    await run_dialogue(bot, user)
    paths = [f"{m} {p}" for m, p in sandbox.cluster.requests]
    return len(paths), bot.toolbox.k8s_calls - calls, paths


async def main(n: int) -> None:
    redis = ensure_redis()
    sandbox = start_sandbox_thread(seed="demo", port=0)
    store = open_store(redis.url, prefix=f"kdbench-{uuid.uuid4().hex[:8]}")
    settings = load_settings(kubeconfig=str(sandbox.kubeconfig_path), kube_context="sandbox")
    bot = build_bot(settings, store=store, gate=ReadOnlyGate(), progress_after=0)
    await bot.start()
    try:
        cold_req, cold_calls, cold_paths = await counted(bot, sandbox, "cold-user")
        warm_req, warm_calls, warm_paths = await counted(bot, sandbox, "warm-user")
        print("reference dialogue (zh, 4 messages, no LLM):")
        print(f"  cold: {cold_calls} tool calls, {cold_req} K8s API requests")
        for p in cold_paths:
            print(f"        {p}")
        print(f"  warm: {warm_calls} tool calls, {warm_req} K8s API requests (target: 1 call, the logs)")
        for p in warm_paths:
            print(f"        {p}")
        overheads: list[float] = []
        for i in range(n):
            await run_dialogue(bot, f"user-{i}", overheads)
        print(f"engine overhead per message, excluding K8s time, over {len(overheads)} messages ({n} dialogues):")
        print(f"  median {statistics.median(overheads) * 1000:.2f} ms   p99 {pct(overheads, 99) * 1000:.2f} ms")
    finally:
        await bot.close()
        await store.delete_pattern(f"{store.keys.prefix}:*")
        await store.close()
        sandbox.stop()
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
