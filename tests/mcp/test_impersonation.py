"""Acting as the chat user travels through the in-process MCP path to the Kubernetes API (Impersonate-* headers),
and only there: a server other clients reach ignores it, and an external MCP source refuses it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from mcp import Client

from bot.tooling.gateway import ToolGateway
from bot.tooling.mcp_config import McpServerConfig
from bot.tooling.mcp_source import McpSource
from bot.tooling.types import ToolCall
from tests.tools.scripted import Scripted, kube, server
from tools.k8s.client import KubeClients
from tools.mcp_server import IMPERSONATE_META_KEY, build_server

__all__ = ["kube", "server"]  # the scripted API server records request headers

NODES = {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": []}


def node_requests(server: Scripted) -> list[dict[str, list[str]]]:
    return [h for m, p, h in server.seen if (m, p) == ("GET", "/api/v1/nodes")]


async def test_the_gateway_impersonates_the_user_through_the_in_process_server(
    server: Scripted, kube: KubeClients
) -> None:
    server.answers[("GET", "/api/v1/nodes")] = lambda: web.json_response(NODES)
    source = McpSource.in_process(build_server(kube=kube, read_only=False, trust_impersonation=True))
    try:
        gateway = ToolGateway([source])
        await gateway.refresh()
        out = await gateway.call(ToolCall("list_nodes", {}), impersonate_user="alice", impersonate_groups=["ops"])
        plain = await gateway.call(ToolCall("list_nodes", {}))
    finally:
        await source.aclose()
    assert out.ok and plain.ok
    first, second = node_requests(server)
    assert (first["Impersonate-User"], first["Impersonate-Group"]) == (["alice"], ["ops"])
    assert "Impersonate-User" not in second


async def test_a_server_for_other_clients_ignores_an_impersonation_request(server: Scripted, kube: KubeClients) -> None:
    server.answers[("GET", "/api/v1/nodes")] = lambda: web.json_response(NODES)
    meta: Any = {IMPERSONATE_META_KEY: {"user": "system:admin", "groups": ["system:masters"]}}
    async with Client(build_server(kube=kube)) as client:
        result = await client.call_tool("list_nodes", {}, meta=meta)
    assert result.is_error is False
    (headers,) = node_requests(server)
    assert "Impersonate-User" not in headers and "Impersonate-Group" not in headers


async def test_an_external_source_refuses_to_act_as_a_user(server: Scripted, kube: KubeClients) -> None:
    # An external server runs with its own credentials: acting "as alice" there would really be acting as it.
    external = McpSource(McpServerConfig(name="ext", url="http://127.0.0.1:9/mcp"))
    out = await external.call(ToolCall("ext_pods_list", {}), impersonate_user="alice")
    assert (out.ok, out.error_code) == (False, "forbidden")
    assert server.seen == []
