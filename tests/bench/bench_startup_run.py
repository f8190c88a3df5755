"""Start-up of a real `kubeduty run` (a script: `python -m tests.bench.bench_startup_run [N] [--dingtalk-only]`).

Each of N runs (default 3) spawns a fresh process against real Redis, the sandbox cluster and the DingTalk
gateway emulator, with Feishu configured but down (a server that accepts and never answers; `--dingtalk-only`
leaves Feishu out, its SDK being the slowest import), and prints the time from spawning the process to:
`/healthz` answering 200, the first reply card for a `/help` sent as soon as DingTalk connected, and `/readyz`
answering 200 (Redis up, DingTalk connected). Then the time SIGTERM took. Figures depend on the machine's load;
they are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.bench_startup import cpu_seconds
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.ops.process import base_env, dingtalk_env, feishu_down_env, kubeduty_run, stalled_server
from tests.support.redis_server import ensure_redis
from tools.sandbox import start_sandbox_thread


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), read while it runs."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one_run(redis_url: str, kubeconfig: str, tmp: Path, i: int, with_feishu: bool) -> dict[str, float]:
    emu = DingTalkEmulator()
    emu.start()
    try:
        with stalled_server() as feishu:
            env = base_env(REDIS_URL=redis_url, KUBECONFIG=kubeconfig, KUBE_CONTEXT="sandbox", **dingtalk_env(emu)) | (
                feishu_down_env(feishu.url) if with_feishu else {}
            )
            async with kubeduty_run(env, tmp / f"run-{i}.log") as bot:
                await bot.wait_status("/healthz", 200)
                healthz = time.monotonic() - bot.started
                await emu.wait_connected(within=120)
                await emu.say("/help")
                await emu.wait_cards(1, within=120)
                first_reply = time.monotonic() - bot.started
                cpu = cpu_seconds(bot.proc.pid)  # hardly moved by other load, unlike the wall times
                await bot.wait_status("/readyz", 200)
                ready = time.monotonic() - bot.started
                rss = peak_rss_mib(bot.proc.pid)
                feishu.close()
                stopping = time.monotonic()
                code = await bot.stop()
                stop = time.monotonic() - stopping
            assert code == 0, bot.output()[-2000:]
            return {
                "healthz": healthz,
                "ready": ready,
                "first_reply": first_reply,
                "cpu_to_first_reply": cpu,
                "sigterm_to_exit": stop,
                "peak_rss_mib": rss,
            }
    finally:
        emu.stop()


async def main(n: int, with_feishu: bool) -> None:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    redis = ensure_redis()
    sandbox = start_sandbox_thread(seed="demo", port=0)
    try:
        with tempfile.TemporaryDirectory(prefix="kd-bench-start-") as tmp:
            runs = [await one_run(redis.url, str(sandbox.kubeconfig_path), Path(tmp), i, with_feishu) for i in range(n)]
    finally:
        sandbox.stop()
        redis.stop()
    load = os.getloadavg()
    what = "Feishu configured but down, DingTalk emulated" if with_feishu else "DingTalk emulated only"
    print(f"kubeduty run start-up, {n} runs ({what}), load avg {load[0]:.1f} on {os.cpu_count()} CPUs")
    for key in ("healthz", "ready", "first_reply", "cpu_to_first_reply", "sigterm_to_exit"):
        values = [r[key] for r in runs]
        print(f"  {key:16s} median {statistics.median(values):6.2f}s  min {min(values):6.2f}s  max {max(values):6.2f}s")
    rss = [r["peak_rss_mib"] for r in runs]
    print(f"  {'peak_rss':16s} median {statistics.median(rss):6.1f} MiB  max {max(rss):6.1f} MiB (VmHWM at ready)")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(int(args[0]) if args else 3, with_feishu="--dingtalk-only" not in sys.argv))
