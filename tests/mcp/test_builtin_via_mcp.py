"""The built-in tools through the MCP path (`McpSource` over `Client(our MCPServer)`, what `kubeduty mcp serve`
offers) behave like the direct `BuiltinSource` the bot uses: same listing, same results for every read tool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.settings import Settings
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from bot.tooling.mcp_config import build_sources
from bot.tooling.mcp_source import McpSource
from bot.tooling.types import ToolCall, ToolInfo
from tools.catalogue import READ_TOOLS
from tools.k8s.client import KubeClients
from tools.mcp_server import build_server


@pytest.fixture
async def source(kube: KubeClients) -> AsyncIterator[McpSource]:
    src = McpSource.in_process(build_server(kube=kube, read_only=False, trust_impersonation=True))
    yield src
    await src.aclose()


def contract(info: ToolInfo) -> tuple[Any, ...]:
    return (
        info.name,
        info.description,
        info.input_schema,
        info.mutates,
        info.risk,
        info.verb,
        info.resource,
        info.title_en,
        info.title_zh,
        info.source,
    )


async def test_the_mcp_path_lists_exactly_what_the_direct_builtin_source_lists(
    source: McpSource, kube: KubeClients
) -> None:
    via_mcp = sorted(map(contract, await source.list_tools()))
    direct = sorted(map(contract, await BuiltinSource(kube).list_tools()))
    assert via_mcp == direct
    assert source.status().state == "up" and source.status().transport == "inprocess"


async def test_the_mcp_path_returns_the_same_pods_as_a_direct_call(source: McpSource, kube: KubeClients) -> None:
    await source.list_tools()
    via_mcp = await source.call(ToolCall("list_pods", {"namespace": "dev"}))
    direct = await BuiltinSource(kube).call(ToolCall("list_pods", {"namespace": "dev"}))
    assert via_mcp.ok and direct.ok
    assert via_mcp.data is not None and direct.data is not None

    def brief(data: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(p["name"], p["status"], p["ready"]) for p in data["items"]]

    assert brief(via_mcp.data) == brief(direct.data)
    assert via_mcp.data["total"] == direct.data["total"] > 0


async def test_a_tool_failure_reaches_the_bot_as_not_ok_with_its_code_and_message(source: McpSource) -> None:
    await source.list_tools()
    out = await source.call(ToolCall("describe_pod", {"namespace": "dev", "pod": "ghost-pod"}))
    assert (out.ok, out.error_code) == (False, "not_found")
    assert out.error is not None and "ghost-pod" in out.error
    assert not out.error.startswith("Error executing tool")


async def test_bad_arguments_come_back_as_invalid_with_the_field_named(source: McpSource) -> None:
    await source.list_tools()
    out = await source.call(ToolCall("scale_deployment", {"namespace": "dev", "deployment": "x", "replicas": -1}))
    assert (out.ok, out.error_code) == (False, "invalid")
    assert out.error is not None and "replicas" in out.error


async def test_the_bot_calls_the_builtin_tools_directly_without_an_mcp_hop(sandbox: Any, kube: KubeClients) -> None:
    sources = build_sources(Settings(mcp_config=None), kube)
    assert [type(s) for s in sources] == [BuiltinSource]
    gateway = ToolGateway(sources)
    await gateway.refresh()
    info = gateway.info("scale_deployment")
    assert info is not None and (info.mutates, info.risk, info.resource) == (True, "medium", "deployments")
    out = await gateway.call(ToolCall("list_pods", {"namespace": "dev"}))
    assert out.ok and out.data is not None
    names = sorted(p["name"] for p in out.data["items"])
    assert names == sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev"))
    assert sources[0].status().state == "up"  # type: ignore[attr-defined]


def read_calls(sandbox: Any) -> list[ToolCall]:
    """At least one call of every built-in read tool, on objects of the demo cluster (logs with a secret)."""
    pods = sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev"))
    pod = next(p for p in pods if p.startswith("payment-api"))
    return [
        ToolCall("list_clusters", {}),
        ToolCall("cluster_overview", {}),
        ToolCall("list_namespaces", {}),
        ToolCall("list_pods", {"namespace": "dev"}),
        ToolCall("list_pods", {"only_unhealthy": True}),
        ToolCall("pod_logs", {"namespace": "dev", "pod": pod, "tail_lines": 50}),
        ToolCall("describe_pod", {"namespace": "dev", "pod": pod}),
        ToolCall("list_events", {"namespace": "dev"}),
        ToolCall("list_deployments", {"namespace": "dev"}),
        ToolCall("list_services", {}),
        ToolCall("list_nodes", {}),
        ToolCall("workload_health", {"namespace": "dev", "name": "payment-api"}),
    ]


async def test_every_builtin_read_tool_returns_the_same_result_directly_and_over_mcp(
    source: McpSource, sandbox: Any, kube: KubeClients
) -> None:
    await source.list_tools()
    direct = BuiltinSource(kube)
    calls = read_calls(sandbox)
    assert {c.tool for c in calls} == set(READ_TOOLS)  # a new read tool must be added here
    for call in calls:
        # The sandbox moves on (a crashing pod restarts, events count up): a read that changed between the two
        # calls is asked again; a real difference between the paths fails every attempt.
        for _ in range(5):
            via_mcp = await source.call(call)
            straight = await direct.call(call)
            assert via_mcp.ok and straight.ok, (call, via_mcp.error, straight.error)
            if via_mcp.data == straight.data:
                break
        assert via_mcp.data == straight.data, call.tool


async def test_a_failure_reads_the_same_directly_and_over_mcp(source: McpSource, kube: KubeClients) -> None:
    await source.list_tools()
    direct = BuiltinSource(kube)
    for call in (
        ToolCall("describe_pod", {"namespace": "dev", "pod": "ghost-pod"}),
        ToolCall("list_pods", {"namespace": "Not_A_Name"}),
    ):
        via_mcp, straight = await source.call(call), await direct.call(call)
        assert (via_mcp.ok, via_mcp.error_code) == (straight.ok, straight.error_code) == (False, straight.error_code)
        assert via_mcp.error is not None and straight.error is not None
        assert straight.error in via_mcp.error, (straight.error, via_mcp.error)


async def test_an_unknown_tool_is_not_found_and_nothing_is_called(source: McpSource, sandbox: Any) -> None:
    await source.list_tools()
    before = sandbox.cluster.request_count
    out = await source.call(ToolCall("drop_database", {}))
    assert (out.ok, out.error_code) == (False, "not_found")
    assert sandbox.cluster.request_count == before
