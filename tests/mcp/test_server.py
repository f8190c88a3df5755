"""Our MCP server over the catalogue, checked with real clients: the `mcp` SDK client in-process, over stdio and
over streamable HTTP, and the MCP inspector CLI (a TypeScript client), all against the sandbox cluster."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mcp_types as mt
from mcp import Client, StdioServerParameters

from tests.mcp.conftest import REPO_ROOT, HttpServer, serve_args, serve_env
from tools.catalogue import CATALOGUE
from tools.k8s.client import KubeClients
from tools.mcp_server import META_KEY, build_server, serve

READS = sorted(n for n, s in CATALOGUE.items() if not s.mutates)
WRITES = sorted(n for n, s in CATALOGUE.items() if s.mutates)


def text_of(result: mt.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, mt.TextContent))


def dev_pod_names(sandbox: Any) -> list[str]:
    return sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev"))


def a_dev_deployment(sandbox: Any) -> tuple[str, int]:
    dep = sorted(sandbox.cluster.list_objects("deployments", "dev"), key=lambda d: d["metadata"]["name"])[0]
    return dep["metadata"]["name"], int(dep["spec"]["replicas"])


async def test_a_read_only_server_lists_every_read_tool_with_the_params_and_result_schemas(kube: KubeClients) -> None:
    async with Client(build_server(kube=kube)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert sorted(tools) == READS
    for name, tool in tools.items():
        spec = CATALOGUE[name]
        assert tool.input_schema == spec.input_schema()
        assert tool.output_schema == spec.output_schema()
        assert tool.description == spec.description
        assert tool.annotations is not None
        assert (tool.annotations.read_only_hint, tool.annotations.destructive_hint) == (True, False)
        assert tool.annotations.idempotent_hint is True
        assert (tool.meta or {})[META_KEY]["title_zh"] == spec.title_zh


async def test_allowing_mutations_lists_them_with_destructive_and_idempotent_hints(kube: KubeClients) -> None:
    async with Client(build_server(kube=kube, read_only=False)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert sorted(tools) == sorted(READS + WRITES)
    for name in WRITES:
        spec, ann = CATALOGUE[name], tools[name].annotations
        assert ann is not None
        assert ann.read_only_hint is False
        assert ann.destructive_hint is spec.destructive
        assert ann.idempotent_hint is spec.idempotent
        assert (tools[name].meta or {})[META_KEY]["risk"] == spec.risk.value
    assert tools["delete_pod"].annotations and tools["delete_pod"].annotations.destructive_hint is True
    assert tools["restart_deployment"].annotations and tools["restart_deployment"].annotations.idempotent_hint is False


async def test_list_pods_in_dev_returns_the_sandbox_pods_as_structured_content(sandbox: Any, kube: KubeClients) -> None:
    async with Client(build_server(kube=kube)) as client:
        result = await client.call_tool("list_pods", {"namespace": "dev"})
    assert result.is_error is False
    assert result.structured_content is not None
    names = sorted(p["name"] for p in result.structured_content["items"])
    assert names == dev_pod_names(sandbox)
    # The text block carries the same result for clients that ignore structured content.
    assert json.loads(text_of(result))["total"] == len(names)


async def test_a_read_only_server_refuses_a_mutation_and_the_cluster_is_unchanged(
    sandbox: Any, kube: KubeClients
) -> None:
    name, replicas = a_dev_deployment(sandbox)
    async with Client(build_server(kube=kube, read_only=True)) as client:
        result = await client.call_tool(
            "scale_deployment", {"namespace": "dev", "deployment": name, "replicas": replicas + 2}
        )
    assert result.is_error is True
    assert "read-only" in text_of(result) and "--allow-mutations" in text_of(result)
    assert sandbox.cluster.get("deployments", "dev", name)["spec"]["replicas"] == replicas


async def test_a_read_write_server_applies_a_mutation_to_the_cluster(sandbox: Any, kube: KubeClients) -> None:
    name, replicas = a_dev_deployment(sandbox)
    async with Client(build_server(kube=kube, read_only=False)) as client:
        result = await client.call_tool(
            "scale_deployment", {"namespace": "dev", "deployment": name, "replicas": replicas + 1}
        )
    assert result.is_error is False, text_of(result)
    assert result.structured_content is not None and result.structured_content["action"] == "scale"
    assert sandbox.cluster.get("deployments", "dev", name)["spec"]["replicas"] == replicas + 1


async def test_a_missing_pod_is_an_error_result_with_the_code_and_the_upstream_message(kube: KubeClients) -> None:
    async with Client(build_server(kube=kube)) as client:
        result = await client.call_tool("describe_pod", {"namespace": "dev", "pod": "no-such-pod"})
    assert result.is_error is True
    text = text_of(result)
    assert "[not_found]" in text and "no-such-pod" in text


async def test_bad_arguments_are_an_error_result_naming_the_field_and_nothing_is_called(
    sandbox: Any, kube: KubeClients
) -> None:
    before = sandbox.cluster.request_count
    async with Client(build_server(kube=kube)) as client:
        result = await client.call_tool("list_pods", {"namespace": "Not_A_Namespace"})
    assert result.is_error is True
    assert "[invalid]" in text_of(result) and "namespace" in text_of(result)
    assert sandbox.cluster.request_count == before


async def test_the_stdio_server_lists_and_calls_for_the_sdk_client(sandbox: Any) -> None:
    params = StdioServerParameters(
        command=serve_args()[0],
        args=[*serve_args("--transport", "stdio")[1:]],
        env=serve_env(sandbox.kubeconfig_path),
        cwd=str(REPO_ROOT),
    )
    async with Client(params) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        result = await client.call_tool("list_pods", {"namespace": "dev"})
    assert names == READS
    assert result.structured_content is not None
    assert sorted(p["name"] for p in result.structured_content["items"]) == dev_pod_names(sandbox)


async def test_the_http_server_lists_and_calls_for_the_sdk_client(
    sandbox: Any, http_server: Callable[..., HttpServer]
) -> None:
    srv = http_server("--allow-mutations")
    name, replicas = a_dev_deployment(sandbox)
    async with Client(srv.url) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        pods = await client.call_tool("list_pods", {"namespace": "dev"})
        scaled = await client.call_tool(
            "scale_deployment", {"namespace": "dev", "deployment": name, "replicas": replicas + 1, "dry_run": True}
        )
    assert names == sorted(READS + WRITES)
    assert pods.structured_content is not None
    assert sorted(p["name"] for p in pods.structured_content["items"]) == dev_pod_names(sandbox)
    assert scaled.structured_content is not None and scaled.structured_content["dry_run"] is True
    assert sandbox.cluster.get("deployments", "dev", name)["spec"]["replicas"] == replicas  # dry run


def inspector(peers: dict[str, Path], *args: str, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [str(peers["inspector"]), "--cli", *args], capture_output=True, text=True, timeout=90, env=env, cwd=REPO_ROOT
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_the_inspector_cli_lists_our_tools_with_annotations_over_stdio(sandbox: Any, peers: dict[str, Path]) -> None:
    env = serve_env(sandbox.kubeconfig_path)
    listing = inspector(peers, *serve_args("--transport", "stdio"), "--method", "tools/list", env=env)
    tools = {t["name"]: t for t in listing["tools"]}
    assert sorted(tools) == READS
    assert tools["list_pods"]["annotations"]["readOnlyHint"] is True
    assert tools["list_pods"]["inputSchema"]["properties"]["namespace"]
    assert "outputSchema" in tools["list_pods"]


def test_the_inspector_cli_calls_a_tool_over_stdio(sandbox: Any, peers: dict[str, Path]) -> None:
    env = serve_env(sandbox.kubeconfig_path)
    result = inspector(
        peers,
        *serve_args("--transport", "stdio"),
        "--method",
        "tools/call",
        "--tool-name",
        "list_pods",
        "--tool-arg",
        "namespace=dev",
        env=env,
    )
    assert result["isError"] is False
    assert sorted(p["name"] for p in result["structuredContent"]["items"]) == dev_pod_names(sandbox)


def test_the_inspector_cli_lists_and_calls_over_streamable_http(
    sandbox: Any, peers: dict[str, Path], http_server: Callable[..., HttpServer]
) -> None:
    srv = http_server()
    env = serve_env(sandbox.kubeconfig_path)
    victim = dev_pod_names(sandbox)[0]
    listing = inspector(peers, srv.url, "--transport", "http", "--method", "tools/list", env=env)
    assert sorted(t["name"] for t in listing["tools"]) == READS
    refused = inspector(
        peers,
        srv.url,
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "delete_pod",
        "--tool-arg",
        "namespace=dev",
        f"pod={victim}",
        env=env,
    )
    assert refused["isError"] is True
    assert "read-only" in refused["content"][0]["text"]
    assert sandbox.cluster.get("pods", "dev", victim) is not None


def test_serve_refuses_an_unknown_transport_with_a_message() -> None:
    assert serve(transport="carrier-pigeon", host="127.0.0.1", port=0, read_only=True) == 2


def test_the_inspector_cli_calls_a_mutation_on_a_server_that_allows_them_and_the_cluster_changes(
    sandbox: Any, peers: dict[str, Path], http_server: Callable[..., HttpServer]
) -> None:
    srv = http_server("--allow-mutations")
    env = serve_env(sandbox.kubeconfig_path)
    name, replicas = a_dev_deployment(sandbox)
    base = [srv.url, "--transport", "http", "--method", "tools/call"]
    result = inspector(
        peers,
        *base,
        "--tool-name",
        "scale_deployment",
        "--tool-arg",
        "namespace=dev",
        f"deployment={name}",
        f"replicas={replicas + 2}",
        env=env,
    )
    assert result["isError"] is False, result
    assert result["structuredContent"]["after"] == {"replicas": str(replicas + 2)}
    assert sandbox.cluster.get("deployments", "dev", name)["spec"]["replicas"] == replicas + 2


def test_the_inspector_cli_gets_a_tool_error_with_its_code_and_the_upstream_message(
    sandbox: Any, peers: dict[str, Path]
) -> None:
    env = serve_env(sandbox.kubeconfig_path)
    result = inspector(
        peers,
        *serve_args("--transport", "stdio"),
        "--method",
        "tools/call",
        "--tool-name",
        "describe_pod",
        "--tool-arg",
        "namespace=dev",
        "pod=no-such-pod",
        env=env,
    )
    assert result["isError"] is True
    message = result["content"][0]["text"]
    assert "[not_found]" in message and "no-such-pod" in message


async def test_a_replica_count_sent_as_true_is_refused_by_a_read_write_server(sandbox: Any, kube: KubeClients) -> None:
    # A client (or a model) sending `"replicas": true` must not scale a deployment down to one replica.
    name = "checkout"
    before = sandbox.cluster.get("deployments", "production", name)["spec"]["replicas"]
    assert before > 1
    sandbox.cluster.reset_requests()
    async with Client(build_server(kube=kube, read_only=False)) as client:
        result = await client.call_tool(
            "scale_deployment", {"namespace": "production", "deployment": name, "replicas": True}
        )
    assert result.is_error is True and "[invalid]" in text_of(result) and "replicas" in text_of(result)
    assert [r for r in sandbox.cluster.requests if r[0] != "GET"] == []
    assert sandbox.cluster.get("deployments", "production", name)["spec"]["replicas"] == before
