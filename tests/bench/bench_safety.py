"""Benchmark of the safety layer (a script: `python -m tests.bench.bench_safety`).

Prints: policy decisions per second on the team example; the wall time of propose (policy + dry run + record
+ card) and of confirm (CAS + execution + audit) against the sandbox over HTTP and Redis; and how many of N
concurrent confirm clicks executed (must be 1).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bot.approvals import Caller, build_gate
from bot.core.events import Conversation, Platform, Sender
from bot.core.i18n import Lang
from bot.policy import CallFacts, decide, load_policy
from bot.settings import REPO_ROOT, Settings
from bot.store import open_store
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from bot.tooling.types import ToolCall
from tests.approvals.conftest import RecordingResponder
from tests.support.redis_server import ensure_redis
from tools.k8s.client import KubeClients
from tools.sandbox import start_sandbox_thread

RUNS = 20


def bench_decide() -> None:
    policy = load_policy([REPO_ROOT / "policies" / "examples" / "team.yaml"])
    facts = [
        CallFacts("scale_deployment", "scale", "deployments", "default", ns, "medium", True)
        for ns in ("dev", "production", "kube-system", "staging")
    ]
    subjects = ["feishu:ou_sre_alice", "feishu:ou_dev_amy", "feishu:ou_random", "feishu:ou_ext_bob"]
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:
        for s in subjects:
            for f in facts:
                decide(policy, s, "feishu:oc_oncall0000000000000000", f)
                n += 1
    elapsed = time.perf_counter() - start
    print(f"decide(): {n / elapsed:,.0f} decisions/s ({elapsed / n * 1e6:.1f} µs each)")


async def bench_flow() -> None:
    redis = ensure_redis()
    handle = start_sandbox_thread(seed="demo", port=0)
    kube = KubeClients(kubeconfig=handle.kubeconfig_path, context="sandbox")
    gateway = ToolGateway([BuiltinSource(kube)])
    await gateway.refresh()
    store = open_store(redis.url, prefix=f"kdbench-{uuid.uuid4().hex[:8]}")
    tmp = Path(tempfile.mkdtemp())
    gate = build_gate(
        settings=Settings(policy_files=[], audit_log_path=str(tmp / "audit.jsonl")), store=store, gateway=gateway
    )
    info = gateway.info("scale_deployment")
    assert info is not None
    alice = Caller(Conversation(Platform.CONSOLE, "bench"), Sender("alice"))
    proposes, confirms = [], []
    try:
        for i in range(RUNS):
            r = RecordingResponder()
            call = ToolCall(
                "scale_deployment", {"namespace": "dev", "deployment": "cart-service-v1", "replicas": 2 + i % 3}
            )
            t0 = time.perf_counter()
            await gate.propose(alice, call, info, r, Lang.EN)
            t1 = time.perf_counter()
            action = r.sent[0][1].buttons[0].action
            await gate.on_action(alice, action, r, Lang.EN, "msg-1")
            t2 = time.perf_counter()
            proposes.append(t1 - t0)
            confirms.append(t2 - t1)
        print(f"propose (policy + dry run + record + card): median {statistics.median(proposes) * 1000:.1f} ms")
        print(f"confirm (CAS + execute + audit + card):    median {statistics.median(confirms) * 1000:.1f} ms")

        for clicks in (2, 10, 50):
            r = RecordingResponder()
            call = ToolCall("scale_deployment", {"namespace": "dev", "deployment": "cart-service-v1", "replicas": 3})
            await gate.propose(alice, call, info, r, Lang.EN)
            action = r.sent[0][1].buttons[0].action
            before = await store.read_stream_tail(store.keys.audit_stream(), 10_000)
            rs = [RecordingResponder() for _ in range(clicks)]
            await asyncio.gather(*(gate.on_action(alice, action, x, Lang.EN, "msg-1") for x in rs))
            after = await store.read_stream_tail(store.keys.audit_stream(), 10_000)
            executed = sum(1 for row in after[: len(after) - len(before)] if row.get("event") == "execute")
            print(f"{clicks} concurrent confirm clicks -> {executed} execution(s)")
    finally:
        await store.delete_pattern(f"{store.keys.prefix}:*")
        await store.close()
        await kube.close()
        handle.stop()
        redis.stop()


async def bench_click_burst(burst: int = 30, handle_seconds: float = 0.5) -> None:
    """Feishu through the real SDK and the gateway emulator: one conversation's bot work is slow (each click
    takes `handle_seconds`) and gets a burst of clicks; meanwhile another user messages another chat. Prints the
    slowest callback answer and the other chat's answer latency with and without the attack (issue #11: before,
    the SDK thread waited up to 2 s per click and the other chat's answer took ~16 s)."""
    from bot.channels import runner
    from bot.core.events import CardActionEvent, InboundEvent
    from bot.core.responder import Responder
    from tests.channels.conftest import make_echo_bot, platform_settings
    from tests.channels.emulators.feishu import FeishuEmulator

    redis = ensure_redis()
    store = open_store(redis.url, prefix=f"kdbench-{uuid.uuid4().hex[:8]}")
    gw = FeishuEmulator()
    gw.start()
    bot = make_echo_bot(store)
    echo = bot.dispatcher._handler

    async def slow(event: InboundEvent, responder: Responder) -> None:
        if isinstance(event, CardActionEvent) and event.conversation.chat_id == "oc_busy":
            await asyncio.sleep(handle_seconds)
        await echo(event, responder)

    bot.dispatcher._handler = slow
    stop = asyncio.Event()
    serving = asyncio.create_task(runner.serve(platform_settings(feishu=gw), lambda _s: bot, stop))
    try:
        await gw.wait_connected()

        async def other_chat(tag: str) -> float:
            before = len(gw.sent())
            start = time.perf_counter()
            await gw.say(f"hello {tag}", chat_id="oc_other", user="ou_bob")
            seen = before
            while not any(m.title == f"echo: hello {tag}" for m in gw.sent()[before:]):
                seen += 1
                await gw.wait_sent(seen, within=60)  # the busy chat's own messages arrive meanwhile too
            return time.perf_counter() - start

        baseline = statistics.median([await other_chat(f"quiet-{i}") for i in range(5)])
        await gw.say("busy", chat_id="oc_busy")
        card = (await gw.wait_sent(len(gw.sent()) + 1))[-1]

        async def timed_click() -> float:
            start = time.perf_counter()
            await gw.click(card, "again")
            return time.perf_counter() - start

        clicks = asyncio.gather(*(timed_click() for _ in range(burst)))
        await asyncio.sleep(0.05)  # the burst is in flight
        during = await other_chat("attack")
        answers = await clicks
        print(
            f"feishu click burst ({burst} clicks, {handle_seconds:.1f} s of bot work each, one chat): "
            f"slowest callback answer {max(answers) * 1000:.0f} ms; other chat answered in {during * 1000:.0f} ms "
            f"during the burst (quiet: {baseline * 1000:.0f} ms)"
        )
    finally:
        stop.set()
        await asyncio.wait_for(serving, 60)
        gw.stop()
        await store.delete_pattern(f"{store.keys.prefix}:*")
        await store.close()
        redis.stop()


def main() -> None:
    bench_decide()
    asyncio.run(bench_flow())
    asyncio.run(bench_click_burst())


if __name__ == "__main__":
    main()
