"""Console round trip for `/pods dev` (a script: `python -m tests.bench.bench_console [N]`).

Each message goes the whole way: console line -> event -> dispatcher (dedupe in the store) -> engine (lock,
state load/save) -> gate -> tool -> sandbox over HTTP -> result card -> text. Prints median and p99 over N
messages (default 300), on real Redis (started if none answers) like production.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
import time
import uuid

from bot.app import build_bot
from bot.approvals.port import ReadOnlyGate
from bot.channels.console import ConsoleChannel
from bot.settings import load_settings
from bot.store import open_store
from tests.support.redis_server import ensure_redis
from tools.sandbox import start_sandbox_thread


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main(n: int) -> None:
    redis = ensure_redis()
    sandbox = start_sandbox_thread(seed="demo", port=0)
    store = open_store(redis.url, prefix=f"kdbench-{uuid.uuid4().hex[:8]}")
    settings = load_settings(kubeconfig=str(sandbox.kubeconfig_path), kube_context="sandbox")
    bot = build_bot(settings, store=store, gate=ReadOnlyGate(), progress_after=0)
    await bot.start()
    try:
        out = io.StringIO()
        channel = ConsoleChannel(bot, out=out)
        await channel.handle_line(b"/pods dev\n")  # warm-up: client creation, first connection
        times: list[float] = []
        sandbox.cluster.reset_requests()
        for _ in range(n):
            out.seek(0)
            out.truncate()
            start = time.perf_counter()
            await channel.handle_line(b"/pods dev\n")
            times.append(time.perf_counter() - start)
            assert "payment-api" in out.getvalue()
        requests = len(sandbox.cluster.requests)
        print(f"console round trip '/pods dev' over {n} messages (real Redis, sandbox over HTTP):")
        print(
            f"  median {statistics.median(times) * 1000:.2f} ms   p99 {pct(times, 99) * 1000:.2f} ms   "
            f"max {max(times) * 1000:.2f} ms"
        )
        print(f"  K8s API requests per message: {requests / n:.2f}")
    finally:
        await bot.close()
        await store.delete_pattern(f"{store.keys.prefix}:*")
        await store.close()
        sandbox.stop()
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
