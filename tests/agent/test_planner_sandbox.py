"""The planner through the real built-in tools, against the sandbox Kubernetes API over HTTP.

Real pieces end to end: the openai client -> scripted LLM over HTTP; `BuiltinSource` -> the kubernetes client ->
the sandbox API server over HTTP. Names are taken from the sandbox's state, so nothing here is hard-coded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest

from bot.agent.planner import OpenAIPlanner
from bot.agent.selection import select_tools
from bot.core.i18n import Lang
from bot.settings import Settings
from bot.tooling.builtin import BuiltinSource
from bot.tooling.types import ToolCall, ToolInfo
from tests.support.llm_server import ScriptedLLM, text, tool_call
from tools.k8s.client import KubeClients
from tools.sandbox import SandboxHandle


@pytest.fixture
async def source(sandbox: SandboxHandle) -> AsyncIterator[BuiltinSource]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=10)
    yield BuiltinSource(kube)
    await kube.close()


@pytest.fixture
async def tools(source: BuiltinSource) -> list[ToolInfo]:
    return await source.list_tools()


def _pods_by_namespace(sandbox: SandboxHandle) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pod in sandbox.cluster.list_objects("Pod"):
        meta = pod["metadata"]
        found.setdefault(meta["namespace"], []).append(meta["name"])
    return found


async def test_a_made_up_namespace_is_not_found_on_the_real_cluster_and_the_model_then_finds_the_real_pods(
    sandbox: SandboxHandle,
    source: BuiltinSource,
    tools: list[ToolInfo],
    llm_server: ScriptedLLM,
    make_settings: Callable[..., Settings],
) -> None:
    pods = _pods_by_namespace(sandbox)
    namespace = max(pods, key=lambda ns: len(pods[ns]))
    llm_server.script(
        tool_call("list_pods", {"namespace": "made-up-namespace"}),
        tool_call("list_pods", {"namespace": namespace}),
        text(f"{namespace} has {len(pods[namespace])} pods."),
    )
    planner = OpenAIPlanner(make_settings(), max_retries=0)
    try:
        turn = await planner.run(
            text="list the pods",
            lang=Lang.EN,
            tools=select_tools("list the pods", tools),
            call_tool=source.call,
            history=[],
            context={"cluster": "sandbox"},
        )
    finally:
        await planner.aclose()

    assert turn.failed is None
    (wrong, wrong_out), (right, right_out) = turn.executed
    assert wrong == ToolCall("list_pods", {"namespace": "made-up-namespace", "cluster": "sandbox"})
    assert not wrong_out.ok and wrong_out.error_code == "not_found"
    assert right_out.ok and right_out.data is not None
    assert {p["name"] for p in right_out.data["items"]} == set(pods[namespace])
    fed_error = json.loads(llm_server.requests[1].tool_messages[0]["content"])
    assert fed_error["error_code"] == "not_found" and "made-up-namespace" in fed_error["error"]
    fed_pods = llm_server.requests[2].tool_messages[1]["content"]
    assert pods[namespace][0] in fed_pods and len(fed_pods) <= 4_000


async def test_real_tool_output_is_bounded_with_the_truncation_note(
    sandbox: SandboxHandle,
    source: BuiltinSource,
    tools: list[ToolInfo],
    llm_server: ScriptedLLM,
    make_settings: Callable[..., Settings],
) -> None:
    total = len(sandbox.cluster.list_objects("Pod"))
    llm_server.script(tool_call("list_pods", {}), text("Many pods."))
    planner = OpenAIPlanner(make_settings(), max_retries=0, per_result_chars=1_500)
    try:
        turn = await planner.run(
            text="all pods",
            lang=Lang.EN,
            tools=tools,
            call_tool=source.call,
            history=[],
            context={"cluster": "sandbox"},
        )
    finally:
        await planner.aclose()

    assert turn.executed[0][1].ok
    fed = llm_server.requests[1].tool_messages[0]["content"]
    assert len(fed) <= 1_500
    data = json.loads(fed)["data"]
    assert total > len(data["items"]) >= 1
    assert data["_truncated"] == f"{total - len(data['items'])} more items not shown; narrow the query"


async def test_a_scale_asked_of_the_real_catalogue_is_proposed_and_the_cluster_is_unchanged(
    sandbox: SandboxHandle,
    source: BuiltinSource,
    tools: list[ToolInfo],
    llm_server: ScriptedLLM,
    make_settings: Callable[..., Settings],
) -> None:
    deployment = sandbox.cluster.list_objects("Deployment")[0]
    ns, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    before = deployment["spec"]["replicas"]
    args = {"namespace": ns, "deployment": name, "replicas": before + 3}
    llm_server.script(tool_call("scale_deployment", args))
    planner = OpenAIPlanner(make_settings(), max_retries=0)
    try:
        turn = await planner.run(
            text=f"把 {name} 扩容到 {before + 3} 个副本",
            lang=Lang.ZH,
            tools=select_tools(f"把 {name} 扩容到 {before + 3} 个副本", tools),
            call_tool=source.call,
            history=[],
            context={"cluster": "sandbox", "namespace": ns},
        )
    finally:
        await planner.aclose()

    assert turn.proposed == [ToolCall("scale_deployment", {**args, "cluster": "sandbox"})]
    assert turn.executed == [] and "需要确认" in turn.answer
    after = sandbox.cluster.get("Deployment", ns, name)
    assert after is not None and after["spec"]["replicas"] == before
