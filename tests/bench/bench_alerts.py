"""Alert webhook to chat card, and an alert storm (a script: `python -m tests.bench.bench_alerts [N] [STORM]`).

1. Latency: the real bot (`runner.serve`, real Redis, the real IM SDKs against the Feishu and DingTalk emulators)
   with its Alertmanager receiver; N webhook posts, each a new alert group routed to one Feishu and one DingTalk
   group. Measured from the start of the HTTP POST to the card reaching each emulator's OpenAPI (median, p99).
2. Storm: STORM alerts (default 1,000) in groups of 5 posted as fast as the receiver takes them, then all their
   resolves. Prints the number of cards the chats received (group cards + digest), card updates, the wall time,
   and whether every group's resolve reached the store and the chats.
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

import aiohttp

from bot.app import build_bot
from bot.channels import runner
from bot.settings import Settings
from bot.store import open_store
from tests.alerts.helpers import alert, payload
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator
from tests.support.prom import free_port
from tests.support.redis_server import ensure_redis
from tools.sandbox import start_sandbox_thread

TOKEN = "bench-alerts-token"
POLICY = Path(__file__).resolve().parent.parent / "alerts" / "data" / "policy.yaml"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run(n: int, storm: int) -> None:
    redis = ensure_redis()
    sandbox = start_sandbox_thread()
    fs, dt = FeishuEmulator(), DingTalkEmulator()
    fs.start()
    dt.start()
    prefix = f"kdbench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    settings = Settings(
        _env_file=None,
        redis_url=redis.url,
        key_prefix=prefix,
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        policy_files=[str(POLICY)],
        audit_log_path=str(Path(tempfile.mkdtemp()) / "audit.jsonl"),
        llm_api_key=None,
        feishu_app_id=fs.app_id,
        feishu_app_secret=fs.app_secret,
        feishu_domain=fs.url,
        dingtalk_client_id=dt.client_id,
        dingtalk_client_secret=dt.client_secret,
        dingtalk_openapi_endpoint=dt.url,
        dingtalk_card_template_id=dt.template_id,
        alerts_port=port,
        alerts_host="127.0.0.1",
        alerts_token=TOKEN,
        alert_chats=["feishu:oc_bench", "dingtalk:cid-bench"],
        alert_card_budget=10_000,  # the latency part measures cards, not the storm guard
    )
    store = open_store(redis.url, prefix=prefix)
    stop = asyncio.Event()
    bots: list[Any] = []

    def build(s: Settings) -> Any:
        bot = build_bot(s, store=store)
        bots.append(bot)
        return bot

    task = asyncio.create_task(runner.serve(settings, build, stop))
    await fs.wait_connected()
    await dt.wait_connected()
    url = f"http://127.0.0.1:{port}/alerts/webhook"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession() as http:
            lat: dict[str, list[float]] = {"feishu": [], "dingtalk": []}
            for i in range(n):
                body = payload([alert("BenchAlert", pod=f"p{i}")], group=f"lat-{i}")
                f0, d0 = len(fs.order), len(dt.card_order)
                t0 = time.perf_counter()
                sending = asyncio.create_task(http.post(url, json=body, headers=headers))
                done: dict[str, float] = {}
                while len(done) < 2:  # the emulators run in their own threads: polled at 1 ms
                    if "feishu" not in done and len(fs.order) > f0:
                        done["feishu"] = time.perf_counter() - t0
                    if "dingtalk" not in done and len(dt.card_order) > d0:
                        done["dingtalk"] = time.perf_counter() - t0
                    await asyncio.sleep(0.001)
                resp = await sending
                assert resp.status == 200, await resp.text()
                resp.release()
                for k, v in done.items():
                    lat[k].append(v)
            for platform, values in lat.items():
                print(
                    f"alert -> card  {platform:9s} n={n}  median {statistics.median(values) * 1000:6.1f} ms"
                    f"  p99 {pct(values, 99) * 1000:6.1f} ms"
                )

            # --- storm: a fresh budget per chat, as in production (10 new cards a minute) ---
            service = bots[0].alerts.service
            service.storm.budget = 10
            storm_chats = ["feishu:oc_storm", "dingtalk:cid-storm"]
            service.routing = type(service.routing).single(storm_chats)
            f0, d0 = len(fs.order), len(dt.card_order)
            fu0 = sum(len(m.versions) for m in fs.messages.values())
            groups = storm // 5
            bodies = [
                payload([alert("StormAlert", pod=f"s{g}-{i}", severity="warning") for i in range(5)], group=f"s{g}")
                for g in range(groups)
            ]
            sem = asyncio.Semaphore(32)  # Alertmanager's own webhook concurrency is of this order

            async def post(body: dict[str, Any]) -> int:
                async with sem, http.post(url, json=body, headers=headers) as resp:
                    return resp.status

            t0 = time.perf_counter()
            statuses = await asyncio.gather(*(post(b) for b in bodies))
            fired = time.perf_counter() - t0
            resolved_bodies = [
                {**b, "status": "resolved", "alerts": [{**a, "status": "resolved"} for a in b["alerts"]]}
                for b in bodies
            ]
            statuses += await asyncio.gather(*(post(b) for b in resolved_bodies))
            await service.storm.drain()
            total = time.perf_counter() - t0
            new_fs = [fs.messages[m] for m in fs.order[f0:]]
            new_dt = [dt.cards[c] for c in dt.card_order[d0:]]
            recent = await service.incidents.recent(groups + 50)
            storm_incidents = [i for i in recent if i.title.startswith("StormAlert")]
            digest = next((m for m in new_fs if "告警风暴" in m.title), None)
            updates = sum(len(m.versions) for m in fs.messages.values()) - fu0
            print(
                f"storm: {storm} alerts in {groups} groups, firing posted in {fired:.2f} s, all resolved at "
                f"{total:.2f} s; HTTP {sorted(set(statuses))}"
            )
            print(
                f"storm: cards posted feishu={len(new_fs)} dingtalk={len(new_dt)} (budget 10/min per chat + 1 digest); "
                f"feishu card versions (updates) {updates}"
            )
            print(
                f"storm: incidents resolved {sum(1 for i in storm_incidents if i.resolved)}/{len(storm_incidents)}; "
                f"digest shows '{digest.title if digest else None}'"
            )
    finally:
        stop.set()
        await task
        await store.delete_pattern(f"{prefix}:*")
        await store.close()
        fs.stop()
        dt.stop()
        sandbox.stop()
        redis.stop()


if __name__ == "__main__":
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(run(args[0] if args else 100, args[1] if len(args) > 1 else 1000))
    print(json.dumps({"note": "wall-clock figures on this shared machine; Redis, HTTP and the IM SDKs are real"}))
