"""`kubeduty run`: refuses clearly without credentials; reports per-platform health, including reconnects."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any, cast

import aiohttp
import pytest

from bot.channels import runner
from bot.store import Store
from tests.channels.conftest import Serve, make_echo_bot, platform_settings
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator


def test_without_credentials_the_run_exits_non_zero_and_says_what_to_configure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    built: list[object] = []
    code = runner.run(platform_settings(), lambda s: built.append(s))
    err = capsys.readouterr().err
    assert code != 0 and built == []  # nothing was built or connected
    for name in ("DINGTALK_CLIENT_ID", "DINGTALK_CLIENT_SECRET", "FEISHU_APP_ID", "FEISHU_APP_SECRET"):
        assert name in err


def test_a_platform_with_only_half_its_credentials_is_not_configured() -> None:
    settings = platform_settings(dingtalk_client_id="only-the-id", feishu_app_secret="only-the-secret")
    assert runner.configured_platforms(settings) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _health(port: int) -> tuple[int, dict[str, Any]]:
    # the per-platform report is readiness (/readyz); /healthz is liveness only (see tests/ops)
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as resp:
        return resp.status, await resp.json()


async def test_health_shows_each_platform_connected_and_counts_a_reconnect(
    store: Store,
    dingtalk_gateway: DingTalkEmulator,
    feishu_gateway: FeishuEmulator,
    serve_bot: Serve,
) -> None:
    port = _free_port()
    settings = platform_settings(dingtalk=dingtalk_gateway, feishu=feishu_gateway, health_port=port)
    await serve_bot(settings, make_echo_bot(store))
    await dingtalk_gateway.wait_connected()
    await feishu_gateway.wait_connected()

    async def report() -> dict[str, Any]:
        return (await _health(port))[1]

    status, body = 0, cast(dict[str, Any], {})
    for _ in range(100):  # the health server starts right after the adapters
        try:
            status, body = await _health(port)
            if body.get("ok") and all(p["connected"] for p in body["platforms"].values()):
                break
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    assert status == 200 and body["ok"] is True
    platforms = body["platforms"]
    assert isinstance(platforms, dict) and set(platforms) == {"dingtalk", "feishu"}
    assert platforms["dingtalk"]["connects"] == 1 and platforms["feishu"]["connected"] is True

    await dingtalk_gateway.drop_connection()
    await dingtalk_gateway.wait_connected(connections=2)
    last: dict[str, Any] = {}

    async def reconnected() -> bool:
        nonlocal last
        last = await report()
        return bool(last["platforms"]["dingtalk"]["connects"] == 2 and last["platforms"]["dingtalk"]["connected"])

    deadline = time.monotonic() + 15
    while not await reconnected():
        assert time.monotonic() < deadline, last
        await asyncio.sleep(0.05)
    assert last["platforms"]["dingtalk"]["last_error"]  # the drop is on record


async def test_wrong_credentials_show_up_in_health_as_disconnected_with_the_reason(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    port = _free_port()
    settings = platform_settings(dingtalk=dingtalk_gateway, health_port=port, dingtalk_client_secret="wrong")
    await serve_bot(settings, make_echo_bot(store))
    await dingtalk_gateway.wait_calls("POST", "/v1.0/gateway/connections/open")
    body: dict[str, Any] = {}
    deadline = time.monotonic() + 15
    while True:
        try:
            status, body = await _health(port)
            if body["platforms"]["dingtalk"]["last_error"]:
                break
        except aiohttp.ClientConnectionError:
            pass
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)
    assert status == 503 and body["ok"] is False
    assert body["platforms"]["dingtalk"]["connected"] is False
    assert dingtalk_gateway.connections == 0


def test_a_bot_that_cannot_start_ends_the_run_with_one_clear_line_and_no_stack_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(_settings: object) -> object:
        raise ValueError("policies/team.yaml:3: roles: 'viewer' is not of type 'object'")

    settings = platform_settings(dingtalk_client_id="id", dingtalk_client_secret="secret")
    assert runner.run(settings, broken) == 1
    err = capsys.readouterr().err
    assert "could not start: policies/team.yaml:3" in err and "Traceback" not in err


async def test_health_reports_each_tool_source_without_failing_the_probe_for_an_external_one(
    sandbox: Any, tmp_path: Any
) -> None:
    from bot.settings import load_settings
    from bot.tooling.builtin import BuiltinSource
    from bot.tooling.mcp_config import build_sources
    from bot.tooling.mcp_source import McpSource
    from tools.k8s.client import KubeClients

    config = tmp_path / "mcp.yaml"
    config.write_text("servers:\n  - name: broken\n    command: /nonexistent/mcp-server\n", encoding="utf-8")
    kube = KubeClients(kubeconfig=str(sandbox.kubeconfig_path), context="sandbox", timeout_seconds=3.0)
    sources = build_sources(load_settings(mcp_config=str(config)), kube)
    try:
        builtin, broken = sources
        # built-in tools are called directly (no in-process MCP hop); external servers still speak MCP
        assert isinstance(builtin, BuiltinSource) and isinstance(broken, McpSource)
        assert await builtin.wait_up(10)
        assert not await broken.wait_up(1)
        report = runner.health_report([], sources)
        tools = report["tool_sources"]
        assert tools["builtin"]["up"] is True and tools["builtin"]["tools"] > 0
        assert tools["broken"]["up"] is False and tools["broken"]["state"] != "up"
        assert report["ok"] is False and report["platforms"] == {}  # only platforms decide `ok`
    finally:
        for source in sources:
            if isinstance(source, McpSource | BuiltinSource):
                await source.aclose()
        await kube.close()
