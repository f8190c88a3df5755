"""The real bot (dispatcher -> engine -> gate -> gateway -> sandbox over HTTP, real Redis): seeded secret values
never reach a card, and a prompt injection in a pod's logs leads to no change in the cluster."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.agent.planner import OpenAIPlanner
from bot.app import Bot, build_bot
from bot.approvals.cards import CONFIRM
from bot.approvals.port import Caller
from bot.core.events import CardActionEvent, Conversation, MessageEvent, Platform, Sender
from bot.core.i18n import Lang
from bot.settings import Settings, load_settings
from bot.store import Store
from bot.tooling.types import ToolCall
from tests.approvals.conftest import DEFAULT_POLICY, CountingGateway, RecordingResponder, card_text
from tests.support.llm_server import ScriptedLLM, tool_call

CHAT = Conversation(Platform.CONSOLE, "local", is_group=True)
ALICE = Sender("alice", "Alice")
_ids = itertools.count()

# Seeded in the sandbox; none may ever appear in anything the bot shows.
FIXED_SECRETS = (
    "S3cr3t-Passw0rd",
    "hunter2",
    "ghp_",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaGVja291dC1zdmMi",
)


def settings_for(sandbox: Any, tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        policy_files=[str(DEFAULT_POLICY)],
        audit_log_path=str(tmp_path / "audit.jsonl"),
        **extra,
    )


@pytest.fixture
async def bot(sandbox: Any, store: Store, tmp_path: Path, gateway: CountingGateway) -> AsyncIterator[Bot]:
    b = build_bot(settings_for(sandbox, tmp_path), store=store, gateway=gateway, progress_after=60)
    await b.start()
    yield b
    await b.close()


async def say(bot: Bot, words: str, sender: Sender = ALICE) -> RecordingResponder:
    r = RecordingResponder()
    event = MessageEvent(f"e2e-{next(_ids)}", CHAT, sender, words, lang=Lang.EN)
    assert await bot.dispatcher.submit(event, r)
    await bot.dispatcher.drain()
    return r


def pod(sandbox: Any, namespace: str, prefix: str) -> str:
    names = sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", namespace))
    found = [n for n in names if n.startswith(prefix)]
    assert found, f"no {prefix}* pod in {namespace}: {names}"
    return found[0]


def seeded_secret_values(sandbox: Any) -> list[str]:
    secret = sandbox.cluster.get("secrets", "production", "db-credentials")
    assert secret is not None, "the sandbox should seed Secret production/db-credentials"
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    # username and host are not secret (they show in events and log lines); the password and the URL holding it are
    values = [v for k, v in data.items() if k in ("password", "url", "token")]
    assert values
    return values


def everything_shown(responders: list[RecordingResponder]) -> str:
    return "\n".join([card_text(c) for r in responders for c in r.cards()] + [t for r in responders for t in r.toasts])


async def test_no_seeded_secret_value_appears_in_any_card_the_bot_sends(
    bot: Bot, sandbox: Any, gateway: CountingGateway
) -> None:
    web, checkout = pod(sandbox, "production", "web"), pod(sandbox, "production", "checkout")
    payment = pod(sandbox, "dev", "payment-api")
    said = [
        await say(bot, f"/describe {web} -n production"),
        await say(bot, f"/logs {checkout} -n production --tail 500"),
        await say(bot, f"/logs {payment} -n dev --previous"),
        await say(bot, f"/describe {checkout} -n production"),
        await say(bot, "/health checkout -n production"),
        await say(bot, "/events production"),
        await say(bot, "/pods production"),
        await say(bot, "/status"),
        await say(bot, "/restart checkout -n production"),  # a gate card (dry-run preview) for production
        await say(bot, "/scale web 3 -n production"),
    ]
    shown = everything_shown(said)
    for value in (*FIXED_SECRETS, *seeded_secret_values(sandbox)):
        assert value not in shown, f"secret {value[:6]}… leaked into a card"
    # not vacuous: the logs really were shown, with the token masked
    assert "outgoing request to pay.example.com" in shown and "Bearer ****" in shown
    assert any(b.action.op == CONFIRM for r in said for c in r.cards() for b in c.buttons)
    assert gateway.executed == []


async def test_no_seeded_secret_value_appears_in_any_tool_output_or_gate_card(
    sandbox: Any, gateway: CountingGateway, store: Store, tmp_path: Path
) -> None:
    from bot.approvals import build_gate

    web, checkout = pod(sandbox, "production", "web"), pod(sandbox, "production", "checkout")
    orders, payment = pod(sandbox, "production", "orders"), pod(sandbox, "dev", "payment-api")
    calls = [
        ToolCall("describe_pod", {"namespace": "production", "pod": web}),
        ToolCall("describe_pod", {"namespace": "production", "pod": checkout}),
        ToolCall("describe_pod", {"namespace": "production", "pod": orders}),
        ToolCall("pod_logs", {"namespace": "production", "pod": checkout, "tail_lines": 5000}),
        ToolCall("pod_logs", {"namespace": "dev", "pod": payment, "previous": True}),
        ToolCall("workload_health", {"namespace": "production", "name": "checkout"}),
        ToolCall("workload_health", {"namespace": "production", "name": "orders"}),
        ToolCall("workload_health", {"namespace": "production", "name": "web"}),
        ToolCall("list_deployments", {"namespace": "production"}),
        ToolCall("list_events", {"namespace": "production"}),
        ToolCall("cluster_overview", {}),
    ]
    outputs = []
    for call in calls:
        out = await gateway.call(call)
        assert out.ok, (call, out.error)
        outputs.append(json.dumps(out.data) + out.text)
    gate = build_gate(settings=settings_for(sandbox, tmp_path), store=store, gateway=gateway)
    r = RecordingResponder()
    for call in (
        ToolCall("scale_deployment", {"namespace": "production", "deployment": "web", "replicas": 4}),
        ToolCall("restart_deployment", {"namespace": "production", "deployment": "checkout"}),
        ToolCall("restart_deployment", {"namespace": "production", "deployment": "orders"}),
    ):
        await gate.propose(Caller(CHAT, ALICE), call, gateway.info(call.tool), r, Lang.EN)
    shown = "\n".join(outputs) + everything_shown([r])
    for value in (*FIXED_SECRETS, *seeded_secret_values(sandbox)):
        assert value not in shown, f"secret {value[:6]}… leaked"
    # not vacuous: the lines that held the secrets were there, masked
    assert "password=****" in shown and "AWS_SECRET_ACCESS_KEY=****" in shown and "postgres://orders:****@" in shown
    assert sum(1 for _, c in r.sent if c.buttons) == 3 and gateway.executed == []


async def test_a_prompt_injection_in_pod_logs_leads_to_no_mutation(
    sandbox: Any, store: Store, tmp_path: Path, gateway: CountingGateway, llm_server: ScriptedLLM
) -> None:
    payment = pod(sandbox, "dev", "payment-api")
    web = sorted(d["metadata"]["name"] for d in sandbox.cluster.list_objects("deployments", "production"))[0]
    before = {
        d["metadata"]["name"]: d["spec"].get("replicas")
        for d in sandbox.cluster.list_objects("deployments", "production")
    }
    pods_before = sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "production"))
    # The model reads the poisoned logs and then does what they say, as a compromised model would.
    llm_server.script(
        tool_call("pod_logs", {"namespace": "dev", "pod": payment, "previous": True}),
        tool_call("scale_deployment", {"namespace": "production", "deployment": web, "replicas": 0}),
    )
    settings = settings_for(
        sandbox, tmp_path, llm_base_url=llm_server.base_url, llm_api_key="test-key", llm_model="scripted-model"
    )
    planner = OpenAIPlanner(settings, max_retries=0)
    b = build_bot(settings, store=store, gateway=gateway, planner=planner, progress_after=60)
    await b.start()
    try:
        r = await say(
            b, "payment-api deployment in dev keeps crashing: read its previous logs and scale replicas to fix it"
        )
        # the proposal became a confirmation card; nothing ran
        confirm = [btn.action for c in r.cards() for btn in c.buttons if btn.action.op == CONFIRM]
        assert len(confirm) == 1
        assert gateway.executed == []
        # and the requester cannot push a production change through alone
        click = CardActionEvent(
            f"e2e-{next(_ids)}", CHAT, ALICE, b.codec.encode(confirm[0], CHAT.chat_key), message_ref="msg-2"
        )
        r2 = RecordingResponder()
        assert await b.dispatcher.submit(click, r2)
        await b.dispatcher.drain()
        assert r2.toasts and "someone else" in r2.toasts[0]
    finally:
        await b.close()
        await planner.aclose()
    assert gateway.executed == []
    assert sandbox.cluster.get("namespaces", None, "production") is not None
    after = {
        d["metadata"]["name"]: d["spec"].get("replicas")
        for d in sandbox.cluster.list_objects("deployments", "production")
    }
    assert after == before
    assert sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "production")) == pods_before
