"""The real third-party peer: containers/kubernetes-mcp-server over stdio, pointed at the sandbox, loaded as an
external tool source of the bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.tooling.gateway import ToolGateway
from bot.tooling.mcp_config import McpServerConfig, parse_config
from bot.tooling.mcp_source import McpSource
from bot.tooling.types import ToolCall
from tools.k8s.client import KubeClients
from tools.mcp_server import build_server

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "mcp-servers.example.yaml"
READS = ["pods_list", "pods_list_in_namespace", "pods_get", "pods_log", "namespaces_list", "events_list"]


def k8smcp_config(peers: dict[str, Path], kubeconfig: Path | str, **extra: Any) -> McpServerConfig:
    return McpServerConfig(
        name="k8smcp",
        command=str(peers["kubernetes-mcp-server"]),
        args=["--kubeconfig", str(kubeconfig)],
        read_only_tools=READS,
        startup_wait_seconds=30,
        **extra,
    )


@pytest.fixture
async def k8smcp(peers: dict[str, Path], sandbox: Any) -> AsyncIterator[McpSource]:
    source = McpSource(k8smcp_config(peers, sandbox.kubeconfig_path))
    yield source
    await source.aclose()


def add_context(kubeconfig: Path, name: str) -> None:
    doc = yaml.safe_load(kubeconfig.read_text())
    first = doc["contexts"][0]["context"]
    doc["contexts"].append({"name": name, "context": {"cluster": first["cluster"], "user": first["user"]}})
    kubeconfig.write_text(yaml.safe_dump(doc))


def example_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return doc


def dev_pods(sandbox: Any) -> list[str]:
    return sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev"))


async def test_its_tools_are_listed_with_the_prefix_and_slot_filling_information(k8smcp: McpSource) -> None:
    tools = {t.name: t for t in await k8smcp.list_tools()}
    assert k8smcp.status().healthy and k8smcp.status().server.startswith("kubernetes-mcp-server")
    assert all(name.startswith("k8smcp_") for name in tools)
    pods = tools["k8smcp_pods_list_in_namespace"]
    assert (pods.mutates, pods.risk, pods.resource, pods.verb, pods.source) == (False, "read", "pods", "list", "k8smcp")
    assert "namespace" in pods.required and "namespace" in pods.properties
    get = tools["k8smcp_pods_get"]
    assert (get.resource, get.verb) == ("pods", "get") and {"namespace", "name"} <= set(get.properties)


async def test_its_delete_scale_and_run_tools_are_mutating_and_listing_runs_none_of_them(
    k8smcp: McpSource, sandbox: Any
) -> None:
    pods_before = dev_pods(sandbox)
    tools = {t.name: t for t in await k8smcp.list_tools()}
    for name in ("k8smcp_pods_delete", "k8smcp_resources_scale", "k8smcp_pods_run"):
        assert tools[name].mutates is True, name
        assert tools[name].risk == "high", name
    # pods_run carries neither readOnlyHint=true nor destructiveHint: unannotated-as-write still means mutating.
    assert tools["k8smcp_pods_run"].annotations.get("destructive_hint") is False
    # A read hint without the operator's review is not enough either.
    assert tools["k8smcp_pods_top"].annotations.get("read_only_hint") is True and tools["k8smcp_pods_top"].mutates
    assert dev_pods(sandbox) == pods_before
    assert not [r for r in sandbox.cluster.requests if r[0] in ("DELETE", "PATCH", "POST", "PUT")]


async def test_list_pods_in_dev_works_through_the_gateway(
    peers: dict[str, Path], sandbox: Any, kube: KubeClients
) -> None:
    external = McpSource(k8smcp_config(peers, sandbox.kubeconfig_path))
    builtin = McpSource.in_process(build_server(kube=kube, read_only=False))
    gateway = ToolGateway([builtin, external])
    try:
        await gateway.refresh()
        info = gateway.info("k8smcp_pods_list_in_namespace")
        assert info is not None and not info.mutates
        out = await gateway.call(ToolCall("k8smcp_pods_list_in_namespace", {"namespace": "dev"}))
        assert out.ok, out.error
        for name in dev_pods(sandbox):
            assert name in out.text
        missing = await gateway.call(ToolCall("k8smcp_pods_get", {"namespace": "dev", "name": "ghost-pod"}))
        assert (missing.ok, missing.error_code) == (False, "failed")
        assert missing.error is not None and "ghost-pod" in missing.error
    finally:
        await external.aclose()
        await builtin.aclose()


async def test_a_changed_kubeconfig_makes_it_announce_new_tools_and_the_source_reloads_them(
    peers: dict[str, Path], sandbox: Any, tmp_path: Path
) -> None:
    kubeconfig = Path(sandbox.write_kubeconfig(tmp_path / "kubeconfig.yaml"))
    source = McpSource(k8smcp_config(peers, kubeconfig))
    try:
        before = {t.name: t for t in await source.list_tools()}
        assert "context" not in before["k8smcp_pods_list_in_namespace"].properties
        version = source.tools_version
        add_context(kubeconfig, "second")
        for _ in range(300):  # the server watches its kubeconfig and sends notifications/tools/list_changed
            if source.tools_version > version:
                break
            await asyncio.sleep(0.05)
        after = {t.name: t for t in await source.list_tools()}
        assert source.tools_version > version
        assert "context" in after["k8smcp_pods_list_in_namespace"].properties
    finally:
        await source.aclose()


async def test_the_example_config_entry_loads_this_peer(peers: dict[str, Path], sandbox: Any, tmp_path: Path) -> None:
    doc = example_doc()
    entry = doc["servers"][0]
    entry["args"] = ["--kubeconfig", str(sandbox.kubeconfig_path), "--disable-multi-cluster"]
    config = parse_config(doc, base=EXAMPLE.parent)
    source = McpSource(config.servers[0])
    try:
        tools = {t.name: t for t in await source.list_tools()}
        refused = await source.call(ToolCall("k8smcp_pods_exec", {"namespace": "dev", "name": "x", "command": ["sh"]}))
    finally:
        await source.aclose()
    assert "k8smcp_pods_exec" not in tools  # excluded in the example, and not callable by name either
    assert (refused.ok, refused.error_code) == (False, "not_found")
    assert tools["k8smcp_pods_delete"].mutates and tools["k8smcp_pods_delete"].risk == "medium"
    assert not tools["k8smcp_pods_log"].mutates


# ---- its write tools against the sandbox (server-side apply, scale, delete), as an admin-bound identity


async def test_its_create_or_update_and_run_tools_go_through_server_side_apply(k8smcp: McpSource, sandbox: Any) -> None:
    assert await k8smcp.wait_up(60)
    configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mcp-made\n  namespace: dev\ndata:\n  a: b\n"
    created = await k8smcp.call(ToolCall("k8smcp_resources_create_or_update", {"resource": configmap}))
    assert created.ok, created.error
    updated = await k8smcp.call(
        ToolCall("k8smcp_resources_create_or_update", {"resource": configmap.replace("a: b", "a: c")})
    )
    assert updated.ok, updated.error
    cm = sandbox.cluster.get("configmap", "dev", "mcp-made")
    assert cm is not None and cm["data"] == {"a": "c"}
    ran = await k8smcp.call(ToolCall("k8smcp_pods_run", {"namespace": "dev", "image": "nginx:1.27", "name": "mcp-run"}))
    assert ran.ok, ran.error
    pod = sandbox.cluster.get("pod", "dev", "mcp-run")
    assert pod is not None and pod["status"]["phase"] == "Running"
    assert ("PATCH", "/api/v1/namespaces/dev/configmaps/mcp-made") in sandbox.cluster.requests


async def test_its_scale_and_delete_tools_change_the_sandbox(k8smcp: McpSource, sandbox: Any) -> None:
    assert await k8smcp.wait_up(60)
    scaled = await k8smcp.call(
        ToolCall(
            "k8smcp_resources_scale",
            {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "dev", "name": "cart-service-v1", "scale": 2},
        )
    )
    assert scaled.ok, scaled.error
    deploy = sandbox.cluster.get("deployment", "dev", "cart-service-v1")
    assert deploy is not None and deploy["spec"]["replicas"] == 2
    victim = next(p for p in dev_pods(sandbox) if p.startswith("cart-service-v2-"))
    deleted = await k8smcp.call(ToolCall("k8smcp_pods_delete", {"namespace": "dev", "name": victim}))
    assert deleted.ok, deleted.error
    assert victim not in dev_pods(sandbox)
    gone = await k8smcp.call(
        ToolCall(
            "k8smcp_resources_delete",
            {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "dev", "name": "frontend-config"},
        )
    )
    assert gone.ok, gone.error
    assert sandbox.cluster.get("configmap", "dev", "frontend-config") is None


async def test_its_writes_as_a_read_only_identity_come_back_as_the_clusters_403(
    peers: dict[str, Path], sandbox: Any, tmp_path: Path
) -> None:
    source = McpSource(k8smcp_config(peers, sandbox.write_kubeconfig(tmp_path / "kc", token="viewer-token")))
    try:
        assert await source.wait_up(60)
        out = await source.call(
            ToolCall(
                "k8smcp_resources_scale",
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "namespace": "dev",
                    "name": "cart-service-v1",
                    "scale": 3,
                },
            )
        )
    finally:
        await source.aclose()
    assert not out.ok and out.error is not None and 'User "viewer" cannot' in out.error
    deploy = sandbox.cluster.get("deployment", "dev", "cart-service-v1")
    assert deploy is not None and deploy["spec"]["replicas"] == 1
