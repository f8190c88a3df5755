"""Fixtures of the planner tests: settings pointing at the scripted LLM, the planner, and a few tools.

The in-test tools use the real parameter models of the tool contract (`tools.k8s.models`), so their schemas are
exactly what the planner meets in production; `tests/agent/test_planner_sandbox.py` goes through the real tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.agent.planner import OpenAIPlanner
from bot.settings import Settings, load_settings
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome
from tests.support.llm_server import ScriptedLLM
from tools.k8s.models import ListPodsParams, NoParams, PodLogsParams, ScaleDeploymentParams


def tool_info(name: str, params: Any, *, mutates: bool = False, verb: str = "get", resource: str = "") -> ToolInfo:
    return ToolInfo(
        name=name,
        description=f"{verb} {resource}".strip(),
        input_schema=params.model_json_schema(),
        mutates=mutates,
        risk="medium" if mutates else "read",
        verb=verb,
        resource=resource,
        title_en=name.replace("_", " "),
        title_zh=name,
    )


LIST_NAMESPACES = tool_info("list_namespaces", NoParams, verb="list", resource="namespaces")
LIST_PODS = tool_info("list_pods", ListPodsParams, verb="list", resource="pods")
POD_LOGS = tool_info("get_pod_logs", PodLogsParams, verb="logs", resource="pods")
SCALE = tool_info("scale_deployment", ScaleDeploymentParams, mutates=True, verb="scale", resource="deployments")
TOOLS = [LIST_NAMESPACES, LIST_PODS, POD_LOGS, SCALE]


@dataclass
class FakeCluster:
    """A call_tool over a tiny in-memory cluster: answers like the engine's call_tool does (not_found etc.)."""

    pods: dict[str, list[str]] = field(default_factory=lambda: {"shop": ["cart-7d9f8-abcde", "web-5c6b7-xyz12"]})
    log_lines: int = 5
    calls: list[ToolCall] = field(default_factory=list)

    async def __call__(self, call: ToolCall) -> ToolOutcome:
        self.calls.append(call)
        ns = call.args.get("namespace")
        if call.tool == "list_namespaces":
            return ToolOutcome(ok=True, data={"items": [{"name": n} for n in self.pods]})
        if ns is not None and ns not in self.pods:
            return ToolOutcome(ok=False, error_code="not_found", error=f'namespaces "{ns}" not found')
        if call.tool == "list_pods":
            items = [{"namespace": ns, "name": p, "phase": "Running"} for p in self.pods.get(ns or "", [])]
            return ToolOutcome(ok=True, data={"items": items, "total": len(items)})
        if call.tool == "get_pod_logs":
            lines = [f"line {i} of {call.args['pod']}" for i in range(self.log_lines)]
            return ToolOutcome(ok=True, data={"namespace": ns, "pod": call.args["pod"], "lines": lines})
        raise AssertionError(f"the planner executed {call.tool}")


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def make_settings(llm_server: ScriptedLLM) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "llm_base_url": llm_server.base_url,
            "llm_api_key": "test-key",
            "llm_model": "scripted-model",
            "llm_timeout_seconds": 5.0,
            "llm_max_steps": 4,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
async def planner(make_settings: Callable[..., Settings]) -> AsyncIterator[OpenAIPlanner]:
    p = OpenAIPlanner(make_settings(), max_retries=0, progress_interval=0.0)
    yield p
    await p.aclose()
