"""The probe server and the metric wrappers in process: what each endpoint says in each phase, what each wrapper
counts, and that SIGTERM lets in-flight turns finish before the platform connections close."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from bot.channels import runner
from bot.channels.common import Health
from bot.ops import health, metrics
from bot.ops.instrument import MeteredGateway, MeteredPlanner, metered_handler
from bot.settings import Settings
from bot.tooling.types import ToolCall, ToolOutcome
from tests.ops.process import free_port


async def _get(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, (await resp.json() if resp.content_type == "application/json" else await resp.text())


async def test_probes_answer_live_from_the_start_and_ready_only_when_the_check_passes_while_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "READY_CHECK_TIMEOUT", 0.3)
    port = free_port()
    server = health.HealthServer(port, host="127.0.0.1")
    await server.start()
    try:
        assert (await _get(port, "/healthz"))[0] == 200
        status, body = await _get(port, "/readyz")
        assert status == 503 and body["reason"] == "starting"

        async def passing() -> dict[str, Any]:
            return {"ok": True}

        server.set_ready_check(passing)
        assert (await _get(port, "/readyz"))[0] == 503  # still starting: not ready before serving
        server.set_phase("serving")
        assert (await _get(port, "/readyz")) == (200, {"ok": True, "phase": "serving"})

        async def hung() -> dict[str, Any]:
            await asyncio.sleep(30)
            return {"ok": True}

        server.set_ready_check(hung)
        status, body = await _get(port, "/readyz")
        assert status == 503 and "longer than" in body["reason"]

        async def broken() -> dict[str, Any]:
            raise ConnectionError("redis went away")

        server.set_ready_check(broken)
        status, body = await _get(port, "/readyz")
        assert status == 503 and "redis went away" in body["reason"]
        assert (await _get(port, "/healthz"))[0] == 200  # liveness never asks the check

        server.set_ready_check(passing)
        server.set_phase("stopping")
        status, body = await _get(port, "/readyz")
        assert status == 503 and body["phase"] == "stopping"
        status, text = await _get(port, "/metrics")
        assert status == 200 and "kubeduty_ready 0.0" in text and "process_cpu_seconds_total" in text
    finally:
        await server.close()


@dataclass
class Event:
    conversation: Any


@dataclass
class Conv:
    platform: str


async def test_the_handler_wrapper_counts_events_by_platform_and_outcome_and_times_each_turn() -> None:
    async def handler(event: Any, _responder: Any) -> None:
        if event.conversation.platform == "feishu":
            raise RuntimeError("boom")

    wrapped = metered_handler(handler)
    ok0 = metrics.value("kubeduty_events_total", platform="dingtalk", outcome="ok")
    err0 = metrics.value("kubeduty_events_total", platform="feishu", outcome="error")
    n0 = metrics.value("kubeduty_turn_seconds_count", platform="feishu")
    await wrapped(Event(Conv("dingtalk")), None)
    with pytest.raises(RuntimeError):  # the dispatcher's boundary still sees the failure
        await wrapped(Event(Conv("feishu")), None)
    assert metrics.value("kubeduty_events_total", platform="dingtalk", outcome="ok") == ok0 + 1
    assert metrics.value("kubeduty_events_total", platform="feishu", outcome="error") == err0 + 1
    assert metrics.value("kubeduty_turn_seconds_count", platform="feishu") == n0 + 1


class Gateway:
    sources = ["builtin"]

    def tools(self) -> list[str]:
        return ["list_pods"]

    def info(self, name: str) -> str:
        return name

    async def call(self, call: ToolCall) -> ToolOutcome:
        if call.tool == "explode":
            raise TimeoutError
        if call.args.get("namespace") == "secret-place":
            return ToolOutcome(ok=False, error_code="forbidden", error="pods is forbidden")
        return ToolOutcome(ok=True, data={})


async def test_the_gateway_wrapper_counts_tool_calls_and_kubernetes_errors_by_tool() -> None:
    gw = MeteredGateway(Gateway())
    assert gw.sources == ["builtin"] and gw.tools() == ["list_pods"]  # everything else is the real gateway's
    before = {
        "ok": metrics.value("kubeduty_tool_calls_total", tool="list_pods", outcome="ok"),
        "err": metrics.value("kubeduty_tool_calls_total", tool="list_pods", outcome="error"),
        "forbidden": metrics.value("kubeduty_k8s_errors_total", tool="list_pods", code="forbidden"),
        "raised": metrics.value("kubeduty_k8s_errors_total", tool="explode", code="exception"),
    }
    await gw.call(ToolCall("list_pods", {"namespace": "dev"}))
    await gw.call(ToolCall("list_pods", {"namespace": "secret-place"}))
    with pytest.raises(TimeoutError):
        await gw.call(ToolCall("explode", {}))
    assert metrics.value("kubeduty_tool_calls_total", tool="list_pods", outcome="ok") == before["ok"] + 1
    assert metrics.value("kubeduty_tool_calls_total", tool="list_pods", outcome="error") == before["err"] + 1
    assert metrics.value("kubeduty_k8s_errors_total", tool="list_pods", code="forbidden") == before["forbidden"] + 1
    assert metrics.value("kubeduty_k8s_errors_total", tool="explode", code="exception") == before["raised"] + 1


async def test_the_planner_wrapper_counts_llm_turns_by_outcome() -> None:
    @dataclass
    class Turn:
        failed: str | None = None

    class Planner:
        closed = False

        async def run(self, **kwargs: Any) -> Turn:
            return Turn(failed="timeout" if kwargs["text"] == "slow" else None)

        async def aclose(self) -> None:
            self.closed = True

    inner = Planner()
    planner = MeteredPlanner(inner)
    ok0 = metrics.value("kubeduty_llm_calls_total", outcome="ok")
    failed0 = metrics.value("kubeduty_llm_calls_total", outcome="failed")
    await planner.run(text="hi")
    await planner.run(text="slow")
    await planner.aclose()
    assert inner.closed
    assert metrics.value("kubeduty_llm_calls_total", outcome="ok") == ok0 + 1
    assert metrics.value("kubeduty_llm_calls_total", outcome="failed") == failed0 + 1


@dataclass
class SlowDispatcher:
    log: list[str]
    turn: asyncio.Event = field(default_factory=asyncio.Event)

    async def drain(self) -> None:
        await self.turn.wait()
        self.log.append("turn finished")


@dataclass
class FakeBot:
    dispatcher: SlowDispatcher
    log: list[str]

    async def start(self) -> None:
        self.log.append("bot started")

    async def close(self) -> None:
        self.log.append("bot closed")


@dataclass
class FakeAdapter:
    log: list[str]
    health: Health = field(default_factory=lambda: Health("dingtalk"))

    async def start(self) -> None:
        self.health.up()

    async def stop(self) -> None:
        self.log.append("adapter stopped")


async def test_on_stop_in_flight_turns_finish_before_the_platform_connections_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []
    bot = FakeBot(SlowDispatcher(log), log)
    monkeypatch.setattr(runner, "build_adapters", lambda _s, _b: [FakeAdapter(log)])
    stop = asyncio.Event()
    settings = Settings(_env_file=None, dingtalk_client_id="id", dingtalk_client_secret="s", shutdown_grace_seconds=30)  # type: ignore[call-arg]
    serving = asyncio.create_task(runner.serve(settings, lambda _s: bot, stop))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.sleep(0.2)
    assert "adapter stopped" not in log  # still waiting for the turn
    bot.dispatcher.turn.set()
    assert await asyncio.wait_for(serving, 30) == 0
    assert log == ["bot started", "turn finished", "adapter stopped", "bot closed"]


async def test_a_turn_that_outlasts_the_grace_period_does_not_hold_the_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []
    bot = FakeBot(SlowDispatcher(log), log)  # its turn never finishes
    monkeypatch.setattr(runner, "build_adapters", lambda _s, _b: [FakeAdapter(log)])
    stop = asyncio.Event()
    settings = Settings(_env_file=None, dingtalk_client_id="id", dingtalk_client_secret="s", shutdown_grace_seconds=0.2)  # type: ignore[call-arg]
    serving = asyncio.create_task(runner.serve(settings, lambda _s: bot, stop))
    await asyncio.sleep(0.2)
    stop.set()
    assert await asyncio.wait_for(serving, 30) == 0
    assert log == ["bot started", "adapter stopped", "bot closed"]
