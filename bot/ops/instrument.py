"""Wrappers that feed `bot.ops.metrics` from the composition root, so the dispatcher, engine and gateway stay
unaware of Prometheus: the event handler (events by outcome, turn latency) and the tool gateway (tool calls,
Kubernetes errors by tool)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.ops import metrics

E = TypeVar("E")
R = TypeVar("R")


def _platform(event: Any) -> str:
    conversation = getattr(event, "conversation", None)
    platform = getattr(conversation, "platform", None)
    return str(getattr(platform, "value", platform) or "unknown")


def metered_handler(handler: Callable[[E, R], Awaitable[None]]) -> Callable[[E, R], Awaitable[None]]:
    async def handle(event: E, responder: R) -> None:
        platform = _platform(event)
        started = time.perf_counter()
        outcome = "error"
        try:
            await handler(event, responder)
            outcome = "ok"
        finally:
            metrics.turn_seconds.labels(platform=platform).observe(time.perf_counter() - started)
            metrics.events.labels(platform=platform, outcome=outcome).inc()

    return handle


class MeteredGateway:
    """Delegates everything to the real gateway; counts each `call` by tool and outcome."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:  # tools(), info(), refresh(), sources … as the inner gateway has them
        return getattr(self._inner, name)

    def tools(self) -> Any:
        return self._inner.tools()

    def info(self, name: str) -> Any:
        return self._inner.info(name)

    async def call(self, call: Any) -> Any:
        tool = str(getattr(call, "tool", "unknown"))
        try:
            outcome = await self._inner.call(call)
        except Exception:
            metrics.tool_calls.labels(tool=tool, outcome="error").inc()
            metrics.k8s_errors.labels(tool=tool, code="exception").inc()
            raise
        ok = bool(getattr(outcome, "ok", True))
        metrics.tool_calls.labels(tool=tool, outcome="ok" if ok else "error").inc()
        if not ok:
            metrics.k8s_errors.labels(tool=tool, code=str(getattr(outcome, "error_code", None) or "unknown")).inc()
        return outcome


class MeteredPlanner:
    """Delegates to the LLM planner; counts each turn as ok, failed (the planner reported an LLM failure) or
    error (it raised)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:  # aclose() and whatever else the planner has
        return getattr(self._inner, name)

    async def run(self, **kwargs: Any) -> Any:
        try:
            turn = await self._inner.run(**kwargs)
        except Exception:
            metrics.llm_calls.labels(outcome="error").inc()
            raise
        metrics.llm_calls.labels(outcome="failed" if getattr(turn, "failed", None) else "ok").inc()
        return turn
