"""P0 escalation and chart images (a script: `python -m tests.bench.bench_escalation [N]`).

The real bot (`runner.serve`, real Redis, the real IM SDKs against the Feishu and DingTalk emulators) with its
Alertmanager receiver and a routing file naming one on-call person per platform. N webhook posts, each a new P0
group: measured from the start of the POST to Feishu's `urgent_app` call and to DingTalk's DING reaching the
emulators (median, p99); then each group is posted twice more (repeat, redelivery) and the escalations counted
(expected: still N per platform). Then the chart: drawing time of a 4-panel PNG (median), its size.
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

from bot.alerts.charts import render_chart
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

TOKEN = "bench-escalation-token"
POLICY = Path(__file__).resolve().parent.parent / "alerts" / "data" / "policy.yaml"
ROUTES = """
default:
  chats: [feishu:oc_bench, dingtalk:cid-bench]
  oncall: [feishu:ou_oncall, {id: "dingtalk:staff-oncall", name: 值班}]
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run(n: int) -> None:
    redis = ensure_redis()
    sandbox = start_sandbox_thread()
    fs, dt = FeishuEmulator(), DingTalkEmulator()
    fs.start()
    dt.start()
    tmp = Path(tempfile.mkdtemp())
    (tmp / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    prefix = f"kdbench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    settings = Settings(
        _env_file=None,
        redis_url=redis.url,
        key_prefix=prefix,
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        policy_files=[str(POLICY)],
        audit_log_path=str(tmp / "audit.jsonl"),
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
        alert_routes_file=str(tmp / "routes.yaml"),
        alert_card_budget=10_000,
    )
    store = open_store(redis.url, prefix=prefix)
    stop = asyncio.Event()

    def build(s: Settings) -> Any:
        return build_bot(s, store=store)

    task = asyncio.create_task(runner.serve(settings, build, stop))
    await fs.wait_connected()
    await dt.wait_connected()
    url = f"http://127.0.0.1:{port}/alerts/webhook"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession() as http:
            lat: dict[str, list[float]] = {"feishu urgent_app": [], "dingtalk DING": []}
            bodies = []
            for i in range(n):
                body = payload([alert("BenchNodeDown", pod=f"n{i}", severity="page")], group=f"p0-{i}")
                bodies.append(body)
                u0, d0 = len(fs.extra.urgent), len(dt.extra.dings)
                t0 = time.perf_counter()
                sending = asyncio.create_task(http.post(url, json=body, headers=headers))
                done: dict[str, float] = {}
                while len(done) < 2:  # the emulators run in their own threads: polled at 1 ms
                    if "feishu urgent_app" not in done and len(fs.extra.urgent) > u0:
                        done["feishu urgent_app"] = time.perf_counter() - t0
                    if "dingtalk DING" not in done and len(dt.extra.dings) > d0:
                        done["dingtalk DING"] = time.perf_counter() - t0
                    await asyncio.sleep(0.001)
                resp = await sending
                assert resp.status == 200, await resp.text()
                resp.release()
                for k, v in done.items():
                    lat[k].append(v)
            for what, values in lat.items():
                print(
                    f"P0 alert -> {what:18s} n={n}  median {statistics.median(values) * 1000:6.1f} ms"
                    f"  p99 {pct(values, 99) * 1000:6.1f} ms"
                )
            for body in bodies:  # a repeat with a second alert, then the same post again (a redelivery)
                grown = {**body, "alerts": [*body["alerts"], alert("BenchNodeDown", pod="extra", severity="page")]}
                for _ in range(2):
                    async with http.post(url, json=grown, headers=headers) as resp:
                        assert resp.status == 200
            await asyncio.sleep(1.0)
            print(
                f"after {n} groups x 3 posts: urgent_app calls {len(fs.extra.urgent)}, DINGs {len(dt.extra.dings)}, "
                f"P0 cards feishu {len([m for m in fs.sent() if '[P0]' in m.title])} "
                f"dingtalk {len([c for c in dt.sent_cards() if '[P0]' in c.title])}"
            )
        series = [(f"s{k}", [((i * 37 + k * 11) % 50) / 3 for i in range(24)], "") for k in range(4)]
        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            png = render_chart(series)
            times.append(time.perf_counter() - t0)
        print(f"chart: 4 panels x 24 points  median {statistics.median(times) * 1000:.1f} ms  {len(png)} bytes")
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
    asyncio.run(run(args[0] if args else 50))
    print(json.dumps({"note": "wall-clock figures on this shared machine; Redis, HTTP and the IM SDKs are real"}))
