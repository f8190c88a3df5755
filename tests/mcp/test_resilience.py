"""A server that is down, hangs, disconnects or changes its tools never takes the bot down: it is reported,
retried with backoff in the background, and picked up again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from mcp.server.mcpserver import Context, MCPServer

from bot.tooling.gateway import ToolGateway
from bot.tooling.mcp_config import McpServerConfig
from bot.tooling.mcp_source import McpSource, source_statuses
from bot.tooling.types import ToolCall
from tests.mcp.conftest import HttpServer, serve_args, serve_env
from tests.tools.scripted import Scripted, kubeconfig, server
from tools.k8s.client import KubeClients
from tools.mcp_server import build_server

__all__ = ["server"]  # a scripted K8s API server whose answers can be slowed down

FAST = {
    "backoff_initial_seconds": 0.1,
    "backoff_max_seconds": 0.5,
    "startup_wait_seconds": 5,
    "connect_timeout_seconds": 5,
    "health_interval_seconds": 1,
}


async def eventually(check: Callable[[], bool], within: float = 20.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def test_a_server_that_cannot_start_is_reported_and_the_other_tools_still_work(
    sandbox: Any, kube: KubeClients
) -> None:
    broken = McpSource(McpServerConfig(name="ghost", command="/nonexistent/kubernetes-mcp-server", **FAST))
    builtin = McpSource.in_process(build_server(kube=kube, read_only=False))
    gateway = ToolGateway([builtin, broken])
    try:
        await gateway.refresh()
        assert gateway.info("list_pods") is not None
        assert [t for t in gateway.tools() if t.source == "ghost"] == []
        out = await gateway.call(ToolCall("list_pods", {"namespace": "dev"}))
        assert out.ok
        status = broken.status()
        assert status.state == "reconnecting" and not status.healthy
        assert status.failures >= 1 and status.error
        assert await eventually(lambda: broken.status().failures >= 3)  # retried in the background
        assert "ghost" in status.line("en") and "不可用" in broken.status().line("zh")
        direct = await broken.call(ToolCall("ghost_pods_list", {}))
        assert (direct.ok, direct.error_code) == (False, "unavailable")
        assert direct.error is not None and "ghost" in direct.error
    finally:
        await broken.aclose()
        await builtin.aclose()
    assert broken.status().state == "stopped"


async def test_a_server_that_never_answers_the_handshake_is_timed_out_and_retried() -> None:
    config = McpServerConfig(name="mute", command="/bin/sleep", args=["60"], **{**FAST, "connect_timeout_seconds": 0.5})
    source = McpSource(config)
    try:
        assert await source.list_tools() == []
        assert await eventually(lambda: source.status().failures >= 1)
        assert "no answer within 0.5s" in (source.status().error or "")
    finally:
        await source.aclose()


@pytest.mark.slow
async def test_a_server_that_disconnects_is_reported_then_reconnected_with_backoff(
    sandbox: Any, http_server: Callable[..., HttpServer]
) -> None:
    srv = http_server()
    source = McpSource(McpServerConfig(name="kd", url=srv.url, **FAST))
    try:
        assert await source.wait_up(20)
        ok = await source.call(ToolCall("kd_list_namespaces", {}))
        assert ok.ok and ok.data is not None

        srv.kill()  # the server goes away: calls fail softly, the bot carries on
        down = await source.call(ToolCall("kd_list_namespaces", {}))
        assert (down.ok, down.error_code) == (False, "unavailable")
        assert await eventually(lambda: source.status().state == "reconnecting")
        assert await eventually(lambda: source.status().failures >= 2)
        assert [t.name for t in await source.list_tools()]  # the last known tools stay listed

        srv.start()  # same port: the background retry finds it
        assert await source.wait_up(20)
        again = await source.call(ToolCall("kd_list_namespaces", {}))
        assert again.ok and again.data is not None
        assert source.status().failures == 0 and source.status().error is None
    finally:
        await source.aclose()


@pytest.mark.slow
async def test_an_http_server_is_reached_with_the_configured_headers(
    sandbox: Any, http_server: Callable[..., HttpServer]
) -> None:
    srv = http_server()
    source = McpSource(McpServerConfig(name="kd", url=srv.url, headers={"Authorization": "Bearer test"}, **FAST))
    try:
        assert await source.wait_up(20)
        out = await source.call(ToolCall("kd_list_namespaces", {}))
        assert out.ok and out.data is not None
        assert "dev" in [n["name"] for n in out.data["items"]]
        assert [st.name for st in source_statuses([source, object()])] == ["kd"]
    finally:
        await source.aclose()


def growing_server() -> MCPServer:
    server = MCPServer("growing")

    @server.tool()
    async def grow(ctx: Context) -> str:
        """Adds a tool and announces it, as a server does when its capabilities change."""

        def pods_list_in_namespace(namespace: str) -> str:
            """List pods."""
            return f"pods of {namespace}"

        server.add_tool(pods_list_in_namespace)
        await ctx.notify_tools_changed()
        return "grown"

    return server


async def test_a_tool_list_change_notification_refreshes_the_tools() -> None:
    source = McpSource(McpServerConfig(name="dyn", url="http://in-process.invalid/"), server=growing_server())
    seen: list[int] = []
    source.add_listener(lambda s: seen.append(s.tools_version))
    try:
        assert [t.name for t in await source.list_tools()] == ["dyn_grow"]
        assert (await source.call(ToolCall("dyn_grow", {}))).ok
        assert await eventually(lambda: source.tools_version >= 2)
        names = [t.name for t in await source.list_tools()]
        assert names == ["dyn_grow", "dyn_pods_list_in_namespace"]
        new = next(t for t in await source.list_tools() if t.name == "dyn_pods_list_in_namespace")
        assert new.mutates is True  # not allow-listed: a new tool starts on the confirmation path
        assert seen[-1] == source.tools_version
        out = await source.call(ToolCall("dyn_pods_list_in_namespace", {"namespace": "dev"}))
        assert (out.ok, out.text) == (True, "pods of dev")
    finally:
        await source.aclose()


async def test_a_huge_result_is_cut_with_a_visible_truncation_marker() -> None:
    server = MCPServer("chatty")

    @server.tool()
    def pods_log(name: str) -> str:
        """Logs."""
        return "x" * 50_000

    source = McpSource(
        McpServerConfig(name="chatty", url="http://in-process.invalid/", max_output_chars=1_000), server=server
    )
    try:
        await source.list_tools()
        out = await source.call(ToolCall("chatty_pods_log", {"name": "p"}))
    finally:
        await source.aclose()
    assert out.ok
    assert out.text.startswith("x" * 1_000) and "truncated" in out.text and "49000" in out.text
    assert len(out.text) < 1_100


@pytest.mark.slow
async def test_a_server_that_dies_during_a_call_answers_unavailable_instead_of_raising(
    server: Scripted, tmp_path: Path
) -> None:
    # The K8s API answers slowly, so the MCP server is killed while the call is in flight: the HTTP client then
    # sees "Server disconnected without sending a response".
    server.answers[("GET", "/api/v1/nodes")] = lambda: web.json_response({"kind": "NodeList", "items": []})
    server.delay = 3.0
    config_path = kubeconfig(tmp_path / "kubeconfig", {"slow": server.url}, current="slow")
    srv = HttpServer(config_path)
    srv.start()
    source = McpSource(McpServerConfig(name="kd", url=srv.url, **FAST))
    try:
        assert await source.wait_up(20)
        in_flight = asyncio.create_task(source.call(ToolCall("kd_list_nodes", {})))
        assert await eventually(lambda: any(p == "/api/v1/nodes" for _, p, _ in server.seen))
        srv.kill()
        out = await asyncio.wait_for(in_flight, timeout=20)
        assert (out.ok, out.error_code) == (False, "unavailable")
        assert await eventually(lambda: source.status().state == "reconnecting")
    finally:
        srv.kill()
        await source.aclose()


async def test_concurrent_calls_share_one_connection(sandbox: Any, kube: KubeClients) -> None:
    source = McpSource.in_process(build_server(kube=kube))
    try:
        await source.list_tools()
        outs = await asyncio.gather(*(source.call(ToolCall("list_namespaces", {})) for _ in range(20)))
    finally:
        await source.aclose()
    assert all(o.ok for o in outs)
    assert len({tuple(n["name"] for n in (o.data or {})["items"]) for o in outs}) == 1


@pytest.mark.slow
async def test_a_stdio_server_that_exits_is_noticed_and_started_again(sandbox: Any) -> None:
    # `timeout 10` ends the server process after 10 s, as a crash would.
    command = ["timeout", "10", *serve_args("--transport", "stdio")]
    config = McpServerConfig(
        name="kd", command=command[0], args=command[1:], env=serve_env(sandbox.kubeconfig_path), **FAST
    )
    source = McpSource(config)
    try:
        assert await source.wait_up(20)
        first_server = source.status().since
        failed = None
        for _ in range(200):  # call until the process is gone
            out = await source.call(ToolCall("kd_list_namespaces", {}))
            if not out.ok:
                failed = out
                break
            await asyncio.sleep(0.1)
        assert failed is not None and failed.error_code == "unavailable"
        assert await source.wait_up(30)  # a new process was started
        assert source.status().since > first_server
        again = await source.call(ToolCall("kd_list_namespaces", {}))
        assert again.ok
    finally:
        await source.aclose()
