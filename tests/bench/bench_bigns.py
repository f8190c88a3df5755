"""`/pods` on a big namespace against kubectl (a script: `python -m tests.bench.bench_bigns [RUNS]`).

A sandbox (its own process) with 5 namespaces x 2,000 pods (10,000 pods). Interleaved, RUNS times (default 15):
the bot answers `/pods scale-000` through the real console path (policy, audit, paging through the namespace,
redaction, card, text; real Redis; cache emptied before each message so every answer reads the cluster), and
`kubectl get pods -n scale-000` runs as a user would (a new process each time). Prints the median and p90 of each
and of the per-run ratio bot / kubectl. Targets: median ratio <= 1.0, p90 ratio <= 1.2.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import statistics
import sys
import tempfile
import time
import uuid

from bot.app import build_bot, tune_gc
from bot.channels.console import ConsoleChannel
from bot.settings import load_settings
from bot.store import open_store
from tests.bench.sandbox_proc import SandboxProcess
from tests.support.redis_server import ensure_redis

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
NAMESPACE = "scale-000"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def kubectl(kubeconfig: str) -> float:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        kubeconfig,
        "get",
        "pods",
        "-n",
        NAMESPACE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    took = time.perf_counter() - start
    if proc.returncode != 0 or out.count(b"\n") < 2000:
        raise RuntimeError(f"kubectl failed ({proc.returncode}): {err[-300:]!r}")
    return took


async def main(runs: int) -> None:
    redis = ensure_redis()
    t0 = time.perf_counter()
    sandbox = SandboxProcess("scale", namespaces=5, pods=2000)
    print(f"sandbox with 5 x 2,000 pods up in {time.perf_counter() - t0:.1f} s (own process)")
    prefix = f"kdbench-{uuid.uuid4().hex[:8]}"
    store = open_store(redis.url, prefix=prefix)
    settings = load_settings(
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        redis_url=redis.url,
        key_prefix=prefix,
        audit_log_path=f"{tempfile.mkdtemp(prefix='kdbench-audit-')}/audit.jsonl",
        llm_api_key=None,
    )
    bot = build_bot(settings, store=store)
    await bot.start()
    tune_gc()
    out = io.StringIO()
    console = ConsoleChannel(bot, out=out)
    line = f"/pods {NAMESPACE}\n".encode()
    bot_times: list[float] = []
    kubectl_times: list[float] = []
    try:
        await console.handle_line(line)  # connections and first-use costs, outside the figures
        await kubectl(str(sandbox.kubeconfig_path))
        for _ in range(runs):
            await bot.toolbox.clear()
            out.seek(0)
            out.truncate()
            start = time.perf_counter()
            await console.handle_line(line)
            bot_times.append(time.perf_counter() - start)
            if "2000" not in out.getvalue():
                raise RuntimeError(f"unexpected answer: {out.getvalue()[:400]}")
            kubectl_times.append(await kubectl(str(sandbox.kubeconfig_path)))
        ratios = [b / k for b, k in zip(bot_times, kubectl_times, strict=True)]
        ms = 1000.0
        print(
            f"`/pods {NAMESPACE}` (2,000 of 10,000 pods) vs `kubectl get pods -n {NAMESPACE}`, {runs} interleaved runs:"
        )
        print(f"  bot      median {statistics.median(bot_times) * ms:7.1f} ms   p90 {pct(bot_times, 90) * ms:7.1f} ms")
        print(
            f"  kubectl  median {statistics.median(kubectl_times) * ms:7.1f} ms   p90 {pct(kubectl_times, 90) * ms:7.1f} ms"
        )
        print(
            f"  ratio bot/kubectl: median {statistics.median(ratios):.2f}x   p90 {pct(ratios, 90):.2f}x"
            "   (targets: <= 1.0x median, <= 1.2x p90)"
        )
    finally:
        await bot.close()
        await store.delete_pattern(f"{prefix}:*")
        await store.close()
        sandbox.stop()
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 15))
