"""What resolving a message's names costs the engine, with and without the in-process vocabulary memo (a script:
`python -m tests.bench.bench_vocab [N]`, issue 12).

One bot, real Redis, the sandbox in its own process seeded with `scale` (5 namespaces x 200 pods = 1,000 pods in
100 Deployments): the size at which reading and decoding the cached pod/deployment listings per message shows.
N messages (default 60) that name a namespace and a Deployment ("scale-001 里 app-0003 的 pod"), alternating memo
on (`MEMO_SECONDS` as shipped) and off (expired at once), so both sides share the machine's load alike. Prints
the engine's wall time per message minus the time inside tool calls (K8s), median and p90, for each side.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
import tempfile
import time
import uuid

from bot.app import build_bot
from bot.channels.console import ConsoleChannel
from bot.conversation import toolbox as toolbox_module
from bot.settings import load_settings
from bot.store import open_store
from tests.bench.sandbox_proc import SandboxProcess
from tests.support.redis_server import ensure_redis


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main(n: int) -> None:
    redis = ensure_redis()
    sandbox = SandboxProcess("scale", namespaces=5, pods=200)
    prefix = f"kdbench-{uuid.uuid4().hex[:8]}"
    store = open_store(redis.url, prefix=prefix)
    audit = tempfile.mkdtemp(prefix="kdbench-audit-")
    settings = load_settings(
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        redis_url=redis.url,
        key_prefix=prefix,
        audit_log_path=f"{audit}/audit.jsonl",
        llm_api_key=None,
    )
    bot = build_bot(settings, store=store)
    await bot.start()
    shipped = toolbox_module.MEMO_SECONDS
    sides: dict[str, list[float]] = {"memo on": [], "memo off": []}
    try:
        out = io.StringIO()
        ch = ConsoleChannel(bot, out=out, chat_id="vocab", user_id="u-vocab")
        await ch.handle_line("scale-001 里 app-0001 的 pod\n".encode())  # fills the listing cache once
        for i in range(n):
            side = "memo on" if i % 2 == 0 else "memo off"
            toolbox_module.MEMO_SECONDS = shipped if side == "memo on" else -1.0
            line = f"scale-{i % 5:03d} 里 app-{i % 20:04d} 的 pod"
            out.seek(0)
            out.truncate()
            k8s = bot.toolbox.k8s_seconds
            start = time.perf_counter()
            await ch.handle_line(line.encode() + b"\n")
            wall = time.perf_counter() - start - (bot.toolbox.k8s_seconds - k8s)
            if f"app-{i % 20:04d}" not in out.getvalue():
                raise RuntimeError(f"unexpected answer to {line!r}: {out.getvalue()[:300]}")
            sides[side].append(wall * 1000)
    finally:
        toolbox_module.MEMO_SECONDS = shipped
        await bot.close()
        await store.delete_pattern(f"{prefix}:*")
        await store.close()
        sandbox.stop()
        redis.stop()
    print(f"engine ms per message excl. tool calls, 1,000 pods, {n} messages alternating:")
    for side, ms in sides.items():
        print(f"  {side:8s} n={len(ms):<3d} median {statistics.median(ms):7.2f}  p90 {pct(ms, 90):7.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 60))
