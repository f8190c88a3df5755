"""Every card a Chinese user sees contains no untranslated English sentence or internal identifier (issue 10).

Three sources of cards, all in zh: (1) every tool's result view, fed with what the tool really returns from the
sandbox (reads, dry-run previews of each change, each error kind); (2) the safety layer's cards reached through
the real bot (confirmation, second-person approval, executed, cancelled, refused, audit); (3) the conversation's
own cards (welcome, help, questions, plan, cancelled, findings, switching). The heuristic is
tests/conversation/corpus/zh_check.py: no run of two or more plain English words outside code spans, code
blocks, tables and cluster names, and never an internal identifier such as `restart_deployment` or `replicas=`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.core.actions import Action
from bot.core.i18n import Lang
from bot.render.model import Button, Card, Code, Fields, Markdown, Note, Table
from bot.render.views import error_blocks, result_card
from bot.store import Store
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from bot.tooling.types import ToolCall
from tests.conversation.corpus.harness import Dialogue, run_dialogue
from tests.conversation.corpus.world import World, known_names
from tests.conversation.corpus.zh_check import english_problems
from tools.k8s.client import KubeClients
from tools.sandbox import SandboxHandle

# (tool, args) whose result views a Chinese user sees; the changes as dry runs (their preview).
VIEWS: list[tuple[str, dict[str, Any]]] = [
    ("list_clusters", {}),
    ("cluster_overview", {}),
    ("list_namespaces", {}),
    ("list_pods", {"namespace": "dev"}),
    ("list_pods", {"namespace": "production", "only_unhealthy": True}),
    ("pod_logs", {"namespace": "dev", "pod": "@payment-api", "previous": True}),
    ("list_events", {"namespace": "dev"}),
    ("describe_pod", {"namespace": "production", "pod": "@orders"}),
    ("describe_pod", {"namespace": "production", "pod": "@report-worker"}),
    ("list_deployments", {"namespace": "production"}),
    ("list_services", {"namespace": "dev"}),
    ("list_nodes", {}),
    ("workload_health", {"namespace": "dev", "name": "payment-api"}),
    ("workload_health", {"namespace": "dev", "name": "frontend"}),
    ("workload_health", {"namespace": "production", "name": "orders"}),
    ("workload_health", {"namespace": "production", "name": "report-worker"}),
    ("workload_health", {"namespace": "production", "name": "web"}),
    ("scale_deployment", {"namespace": "dev", "deployment": "payment-api", "replicas": 3, "dry_run": True}),
    ("restart_deployment", {"namespace": "dev", "deployment": "frontend", "dry_run": True}),
    ("rollback_deployment", {"namespace": "dev", "deployment": "frontend", "dry_run": True}),
    ("delete_pod", {"namespace": "dev", "pod": "@payment-api", "dry_run": True}),
    ("cordon_node", {"node": "node-1", "dry_run": True}),
    ("uncordon_node", {"node": "node-1", "dry_run": True}),
    ("scale_statefulset", {"namespace": "dev", "statefulset": "redis", "replicas": 2, "dry_run": True}),
]


def assert_chinese(card: Card, names: frozenset[str] = frozenset()) -> None:
    problems = english_problems(card, known_names=names)
    hint = "\n(text quoted from the cluster belongs in a `code` span or a table, where it reads as data)"
    assert not problems, f"{card.title!r}:\n" + "\n".join(problems) + hint


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


@pytest.fixture
async def gateway(world: World) -> AsyncIterator[ToolGateway]:
    kube = KubeClients(kubeconfig=str(world.kubeconfig), context="sandbox", timeout_seconds=10.0)
    yield ToolGateway([BuiltinSource(kube)])
    await kube.close()


def _resolve(args: dict[str, Any], sandbox: SandboxHandle) -> dict[str, Any]:
    """`@prefix` = the first pod of the namespace whose name starts with prefix."""
    out = dict(args)
    if str(out.get("pod", "")).startswith("@"):
        prefix = out["pod"][1:]
        pods = sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("Pod", out["namespace"]))
        out["pod"] = next(p for p in pods if p.startswith(prefix))
    return out


@pytest.mark.parametrize(("tool", "args"), VIEWS, ids=[f"{t}-{'-'.join(map(str, a.values()))}" for t, a in VIEWS])
async def test_every_result_view_in_chinese_has_no_english_sentence_or_internal_name(
    tool: str, args: dict[str, Any], gateway: ToolGateway, world: World
) -> None:
    info = gateway.info(tool)
    assert info is not None, tool
    out = await gateway.call(ToolCall(tool, _resolve(args, world.main)))
    assert out.ok, f"{tool} failed: {out.error}"
    card = result_card(info.title("zh"), tool, out.data, out.text, Lang.ZH)
    assert card.blocks, "an empty view proves nothing"
    assert_chinese(card, known_names(world.main))


@pytest.mark.parametrize("code", ["unavailable", "forbidden", "not_found", "invalid", "timeout", None])
def test_every_error_view_in_chinese_has_no_english_sentence(code: str | None) -> None:
    # the upstream message is the cluster's (one token here, so only our explanation around it is judged)
    blocks = error_blocks(Lang.ZH, "ECONNREFUSED", code)
    card = Card(title="出错了", blocks=tuple(b for b in blocks if not isinstance(b, Code)))
    assert any(isinstance(b, Markdown) for b in card.blocks), "nothing explained"
    assert_chinese(card)


# Flows a Chinese user goes through; every card of every turn is checked. Slash commands reach the cards
# without depending on how free text is understood.
FLOWS: dict[str, list[dict[str, Any]]] = {
    "welcome-and-help": [{"say": "你好"}, {"say": "/help"}],
    "not-understood": [{"say": "你好"}, {"say": "呃呃呃呃"}],
    "namespace-and-pod-questions-then-logs": [
        {"say": "看下 cart-service 的日志"},
        {"press": "dev"},
        {"press": "cart-service-v2"},
    ],
    "question-cancelled": [{"say": "看下 cart-service 的日志"}, {"press": "取消"}],
    "health-plan-and-findings": [
        {"say": "检查一下 payment-api 的健康状况"},
        {"press": "dev"},
        {"press": "开始检查"},
    ],
    "restart-confirmed-and-done": [{"say": "你好"}, {"say": "/restart frontend -n dev"}, {"press": "确认"}],
    "scale-cancelled": [{"say": "你好"}, {"say": "/scale payment-api 3 -n dev"}, {"press": "取消"}],
    "delete-pod-confirmation": [{"say": "你好"}, {"say": "/delete pod @payment-api -n dev"}],
    "cordon-confirmed": [{"say": "你好"}, {"say": "/cordon node-2"}, {"press": "确认"}],
    # the requester presses the approve button of their own production change: told a second person must
    "production-second-person": [{"say": "你好"}, {"say": "/scale web 4 -n production"}, {"press": "批准"}],
    "audit": [{"say": "你好"}, {"say": "/restart frontend -n dev"}, {"press": "取消"}, {"say": "/audit"}],
    "overview-nodes-namespaces": [{"say": "你好"}, {"say": "/status"}, {"say": "/nodes"}, {"say": "/ns"}],
    "switch-cluster": [{"say": "你好"}, {"say": "/use cluster sandbox-staging"}, {"say": "/use cluster nope"}],
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("flow", list(FLOWS), ids=list(FLOWS))
async def test_every_card_of_a_chinese_flow_has_no_english_sentence_or_internal_name(flow: str, store: Store) -> None:
    world = World()  # changes run in some flows: sandboxes of its own
    try:
        pods = sorted(p["metadata"]["name"] for p in world.main.cluster.list_objects("Pod", "dev"))
        payment = next(p for p in pods if p.startswith("payment-api"))
        turns = tuple(
            {**{k: str(v).replace("@payment-api", payment) for k, v in t.items()}, "zh_clean": True}
            for t in FLOWS[flow]
        )
        result = await run_dialogue(Dialogue("zh_cards", flow, "zh", turns), world, store)
    finally:
        world.close()
    shown = sum(len(t.cards) for t in result.turns)
    assert shown >= len(turns), "fewer cards than turns: a step went unanswered"
    assert result.passed, "\n".join(result.problems) + "\n\n" + result.transcript()


def test_the_heuristic_flags_the_english_internals_issue_10_lists() -> None:
    bad = [
        Card(title="发现", blocks=(Markdown("container payment-api keeps crashing, restarts: 37, last exit: Error"),)),
        Card(title="确认改动：restart_deployment"),
        Card(title="确认", blocks=(Fields((("风险", "medium"),)),)),
        Card(title="确认", blocks=(Note("只有发起人 you 可以确认。"),)),
        Card(title="重启", blocks=(Markdown("rolling restart of 1 pods"),)),
        Card(title="在哪个命名空间？", blocks=(Markdown("**Pod 日志** `tail_lines=3` `replicas=3`"),)),
        Card(title="Pod 列表", buttons=(Button("Previous logs payment-api-1", Action("x")),)),
    ]
    for card in bad:
        assert english_problems(card, known_names=frozenset({"payment-api"})), card


def test_the_heuristic_lets_cluster_names_jargon_and_data_through() -> None:
    good = Card(
        title="Pod 日志 · dev/payment-api-7d9f-abcde",
        blocks=(
            Markdown("`payment-api` 的容器在 CrashLoopBackOff，上一次退出码 1；镜像 `registry.example.com/web:v5`。"),
            Fields((("命名空间", "dev"), ("节点", "node-1"), ("状态", "Running"))),
            Table(("类型", "原因", "消息"), (("Warning", "BackOff", "Back-off restarting failed container"),)),
            Code("2026-11-30T02:15:27Z panic: dial tcp 10.0.3.7:5432: connect: connection refused"),
        ),
        buttons=(Button("上一次的日志", Action("x")), Button("查看 web 的 Pod", Action("y"))),
    )
    assert english_problems(good, known_names=frozenset({"web", "payment-api"})) == []
