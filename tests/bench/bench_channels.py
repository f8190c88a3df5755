"""IM round trip through the real SDKs (a script: `python -m tests.bench.bench_channels [N]`).

For each platform: the gateway emulator pushes a `/pods dev` message frame; the real SDK (own thread) acks it,
the adapter hands it to the real bot (real Redis, sandbox cluster over HTTP, rule parser), and the bot's card
reaches the emulator's OpenAPI. Prints, over N messages (default 100): time to the SDK's ack and time to the
card (median, p99), and the size of the card JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bot.app import build_bot
from bot.channels import runner
from bot.render.templates import json_size
from bot.settings import Settings
from bot.store import open_store
from tests.channels.emulators.dingtalk import MESSAGE_TOPIC, DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator
from tests.support.redis_server import ensure_redis
from tools.sandbox import start_sandbox_thread

POLICY = Path(__file__).resolve().parent.parent / "channels" / "data" / "policy.yaml"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def bench(platform: str, n: int, sandbox: Any, redis_url: str) -> None:
    audit = Path(tempfile.mkdtemp()) / "audit.jsonl"
    common: dict[str, Any] = {
        "_env_file": None,
        "redis_url": redis_url,
        "key_prefix": f"kdbench-{uuid.uuid4().hex[:8]}",
        "kubeconfig": str(sandbox.kubeconfig_path),
        "kube_context": "sandbox",
        "policy_files": [str(POLICY)],
        "audit_log_path": str(audit),
        "llm_api_key": None,
    }
    emu: Any = DingTalkEmulator() if platform == "dingtalk" else FeishuEmulator()
    emu.start()
    if platform == "dingtalk":
        settings = Settings(
            **common,
            dingtalk_client_id=emu.client_id,
            dingtalk_client_secret=emu.client_secret,
            dingtalk_openapi_endpoint=emu.url,
            dingtalk_card_template_id=emu.template_id,
        )
    else:
        settings = Settings(**common, feishu_app_id=emu.app_id, feishu_app_secret=emu.app_secret, feishu_domain=emu.url)
    store = open_store(redis_url, prefix=common["key_prefix"])
    stop = asyncio.Event()
    task = asyncio.create_task(runner.serve(settings, lambda s: build_bot(s, store=store), stop))
    await emu.wait_connected()
    acks: list[float] = []
    cards: list[float] = []
    sizes: list[int] = []

    def count() -> int:
        return len(emu.card_order) if platform == "dingtalk" else len(emu.order)

    for i in range(n):
        before = count()
        t0 = time.perf_counter()
        if platform == "dingtalk":
            data = emu.message_data("/pods dev", user_id=f"staff-b{i}")
            await emu.push(MESSAGE_TOPIC, data)
        else:
            await emu.push(emu.message_event("/pods dev", user=f"ou_b{i}"))
        acks.append(time.perf_counter() - t0)
        want = before + 2  # a first-time user gets the welcome card, then the answer
        while count() < want:  # noqa: ASYNC110 - the emulator runs in another thread; polled at 1 ms
            await asyncio.sleep(0.001)
        cards.append(time.perf_counter() - t0)
        last = emu.sent_cards()[-1].data if platform == "dingtalk" else emu.sent()[-1].content
        sizes.append(json_size(last))
    stop.set()
    await task
    await store.delete_pattern(f"{common['key_prefix']}:*")
    await store.close()
    emu.stop()
    ms = 1000.0
    print(
        f"{platform:9s} n={n}  ack median {statistics.median(acks) * ms:6.1f} ms  p99 {pct(acks, 99) * ms:6.1f} ms   "
        f"card median {statistics.median(cards) * ms:6.1f} ms  p99 {pct(cards, 99) * ms:6.1f} ms   "
        f"card JSON {min(sizes)}-{max(sizes)} bytes"
    )


async def main(n: int) -> None:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    redis = ensure_redis()
    sandbox = start_sandbox_thread()
    try:
        for platform in ("dingtalk", "feishu"):
            await bench(platform, n, sandbox, redis.url)
    finally:
        sandbox.stop()
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
    print(json.dumps({"note": "wall-clock figures on this machine; the SDK frames and HTTP calls are real"}))
