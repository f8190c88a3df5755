"""The whole bot with kubernetes-mcp-server loaded from an MCP servers file (issue 6's peer test): the LLM planner
(scripted, over HTTP) sees the peer's tools next to ours, answers "list pods in dev" through its
`pods_list_in_namespace`, and its `pods_delete` / `resources_scale` / `pods_run` stop at a confirmation card:
nothing changes in the cluster until a person confirms, and then exactly the confirmed call runs."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.agent.planner import OpenAIPlanner
from bot.app import Bot, build_bot
from bot.approvals.cards import CANCEL, CONFIRM
from bot.core.actions import Action
from bot.core.events import CardActionEvent, Conversation, MessageEvent, Platform, Sender
from bot.core.i18n import Lang
from bot.render.model import Card
from bot.render.text import render_card
from bot.settings import REPO_ROOT, load_settings
from bot.store import Store
from tests.support.llm_server import ScriptedLLM, text, tool_call

EXAMPLE = REPO_ROOT / "deploy" / "mcp-servers.example.yaml"
POLICY = REPO_ROOT / "policies" / "default.yaml"
CHAT = Conversation(Platform.CONSOLE, "oncall", is_group=True)
ALICE = Sender("alice", "Alice")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
_ids = itertools.count()


class Recorder:
    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.toasts: list[str] = []

    async def send(self, card: Card) -> str | None:
        self.cards.append(card)
        return f"msg-{len(self.cards)}"

    async def update(self, ref: str, card: Card) -> None:
        self.cards.append(card)

    async def toast(self, text: str) -> None:
        self.toasts.append(text)

    def text(self) -> str:
        return "\n".join(render_card(c) for c in self.cards) + "\n" + "\n".join(self.toasts)

    def actions(self, op: str) -> list[Action]:
        return [b.action for c in self.cards for b in c.buttons if b.action.op == op]


def writes(sandbox: Any) -> list[tuple[str, str]]:
    # access reviews are questions the peer asks, not changes: a real server answers them with a POST too
    return [
        (m, p) for m, p in sandbox.cluster.requests if m in WRITES and not p.startswith("/apis/authorization.k8s.io/")
    ]


def dev_pods(sandbox: Any) -> list[str]:
    return sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev"))


def policy_allowing_run(tmp_path: Path) -> Path:
    """The shipped policy, with `run` added to the console demo operator's verbs (the shipped one refuses
    `pods_run` outright, see the last test), so every mutating peer tool reaches the confirmation card."""
    doc = yaml.safe_load(POLICY.read_text())
    doc["roles"]["demo-operator"]["rules"][0]["verbs"].append("run")
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return policy_allowing_run(tmp_path)


@pytest.fixture
async def bot(
    peers: dict[str, Path], sandbox: Any, store: Store, llm_server: ScriptedLLM, tmp_path: Path, policy: Path
) -> AsyncIterator[Bot]:
    # The shipped example file, pointed at this sandbox (the only edits: the binary's absolute path, the kubeconfig).
    doc = yaml.safe_load(EXAMPLE.read_text())
    entry = doc["servers"][0]
    entry["command"] = str(peers["kubernetes-mcp-server"])
    entry["args"] = ["--kubeconfig", str(sandbox.kubeconfig_path), "--disable-multi-cluster"]
    entry["startup_wait_seconds"] = 30
    config = tmp_path / "mcp-servers.yaml"
    config.write_text(yaml.safe_dump(doc))
    settings = load_settings(
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        policy_files=[str(policy)],
        audit_log_path=str(tmp_path / "audit.jsonl"),
        mcp_config=str(config),
        llm_base_url=llm_server.base_url,
        llm_api_key="test-key",
        llm_model="scripted-model",
        llm_timeout_seconds=10.0,
    )
    planner = OpenAIPlanner(settings, max_retries=0)
    b = build_bot(settings, store=store, planner=planner, progress_after=60)
    await b.start()
    try:
        assert b.gateway.info("k8smcp_pods_list_in_namespace") is not None, "the peer's tools did not load"
        yield b
    finally:
        await b.close()
        await planner.aclose()


async def say(bot: Bot, words: str) -> Recorder:
    r = Recorder()
    assert await bot.dispatcher.submit(MessageEvent(f"peer-{next(_ids)}", CHAT, ALICE, words, lang=Lang.EN), r)
    await bot.dispatcher.drain()
    return r


async def press(bot: Bot, action: Action) -> Recorder:
    r = Recorder()
    payload = bot.codec.encode(action, CHAT.chat_key)
    event = CardActionEvent(f"peer-{next(_ids)}", CHAT, ALICE, payload, message_ref="msg-1")
    assert await bot.dispatcher.submit(event, r)
    await bot.dispatcher.drain()
    return r


async def test_list_pods_in_dev_is_answered_through_the_peers_tool(
    bot: Bot, sandbox: Any, llm_server: ScriptedLLM
) -> None:
    llm_server.script(
        tool_call("k8smcp_pods_list_in_namespace", {"namespace": "dev"}), text("dev has the pods listed above.")
    )
    sandbox.cluster.reset_requests()
    r = await say(bot, "list pods in dev")
    offered = llm_server.requests[0].tool_names
    assert "k8smcp_pods_list_in_namespace" in offered and "list_pods" in offered  # theirs next to ours
    # The peer really asked the cluster, and what it answered went back to the model.
    assert ("GET", "/api/v1/namespaces/dev/pods") in sandbox.cluster.requests
    fed = llm_server.requests[1].tool_messages[0]["content"]
    for name in dev_pods(sandbox):
        assert name in fed
    assert "dev has the pods listed above." in r.text()
    assert writes(sandbox) == []


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("k8smcp_pods_delete", {"namespace": "dev", "name": "{pod}"}),
        (
            "k8smcp_resources_scale",
            {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "dev", "name": "cart-service-v1", "scale": 3},
        ),
        ("k8smcp_pods_run", {"namespace": "dev", "name": "intruder", "image": "busybox"}),
    ],
    ids=["pods_delete", "resources_scale", "pods_run"],
)
async def test_the_peers_mutating_tools_stop_at_a_confirmation_card_and_cancel_changes_nothing(
    bot: Bot, sandbox: Any, llm_server: ScriptedLLM, tool: str, args: dict[str, Any]
) -> None:
    args = {k: (v.format(pod=dev_pods(sandbox)[0]) if isinstance(v, str) else v) for k, v in args.items()}
    info = bot.gateway.info(tool)
    assert info is not None and info.mutates
    pods_before = dev_pods(sandbox)
    sandbox.cluster.reset_requests()
    llm_server.script(tool_call(tool, args))
    r = await say(bot, f"please run {tool} with {json.dumps(args)}")
    (confirm,) = r.actions(CONFIRM)
    (cancel,) = r.actions(CANCEL)
    assert tool in r.text()
    assert writes(sandbox) == [] and dev_pods(sandbox) == pods_before  # proposed, not run
    await press(bot, cancel)
    assert writes(sandbox) == [] and dev_pods(sandbox) == pods_before
    assert confirm.op == CONFIRM
    replicas = sandbox.cluster.get("deployments", "dev", "cart-service-v1")["spec"]["replicas"]
    assert replicas == 1


async def test_a_confirmed_pods_delete_runs_once_through_the_peer(
    bot: Bot, sandbox: Any, llm_server: ScriptedLLM
) -> None:
    victim = next(n for n in dev_pods(sandbox) if n.startswith("cart-service-v2-"))
    llm_server.script(tool_call("k8smcp_pods_delete", {"namespace": "dev", "name": victim}))
    r = await say(bot, f"delete pod {victim} in dev")
    (confirm,) = r.actions(CONFIRM)
    assert victim in dev_pods(sandbox) and writes(sandbox) == []
    sandbox.cluster.reset_requests()
    done = await press(bot, confirm)
    assert victim not in dev_pods(sandbox), done.text()
    assert writes(sandbox) == [("DELETE", f"/api/v1/namespaces/dev/pods/{victim}")]
    # The same confirmation pressed again runs nothing a second time.
    sandbox.cluster.reset_requests()
    await press(bot, confirm)
    assert writes(sandbox) == []


@pytest.mark.parametrize("policy", [POLICY], ids=["shipped-policy"])
async def test_under_the_shipped_policy_the_peers_pods_run_is_refused_outright(
    bot: Bot, sandbox: Any, llm_server: ScriptedLLM
) -> None:
    pods_before = dev_pods(sandbox)
    sandbox.cluster.reset_requests()
    llm_server.script(tool_call("k8smcp_pods_run", {"namespace": "dev", "name": "intruder", "image": "busybox"}))
    r = await say(bot, "run a busybox pod called intruder in dev")
    assert r.actions(CONFIRM) == []
    assert "`run` on `pods`" in r.text() and "Nothing in the cluster was changed" in r.text()
    assert writes(sandbox) == [] and dev_pods(sandbox) == pods_before


async def test_a_missing_argument_of_a_peer_tool_is_asked_for_with_the_clusters_pods_and_the_pick_runs_it(
    bot: Bot, sandbox: Any, llm_server: ScriptedLLM
) -> None:
    llm_server.script(tool_call("k8smcp_pods_log", {"namespace": "dev"}))  # the model forgot the pod's `name`
    r = await say(bot, "show me the logs of the canary pod")
    picks = r.actions("pick")
    assert sorted(a.args["v"] for a in picks) == dev_pods(sandbox)  # choices come from the cluster, not the model
    assert {(a.args["t"], a.args["s"]) for a in picks} == {("k8smcp_pods_log", "name")}
    canary = next(a for a in picks if a.args["v"].startswith("cart-service-v2-"))
    sandbox.cluster.reset_requests()
    shown = await press(bot, canary)
    assert ("GET", f"/api/v1/namespaces/dev/pods/{canary.args['v']}/log") in sandbox.cluster.requests
    assert "v2.0.0-canary" in shown.text()
    assert writes(sandbox) == []
