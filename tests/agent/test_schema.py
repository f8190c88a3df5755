"""Our tools as OpenAI function tools: provider-safe names and schemas, mapped back exactly."""

from __future__ import annotations

from typing import Any

from bot.agent.schema import ToolIndex, function_parameters
from bot.tooling.types import ToolInfo
from tests.agent.conftest import LIST_PODS, SCALE


def _tool(name: str, schema: dict[str, Any] | None = None) -> ToolInfo:
    return ToolInfo(name=name, description="d", input_schema=schema or {"type": "object"}, mutates=False)


def test_names_are_sanitised_deduplicated_and_mapped_back_to_the_real_tool() -> None:
    a, b, long = _tool("k8s-mcp.pods_list"), _tool("k8s-mcp/pods_list"), _tool("x" * 100)
    index = ToolIndex([a, b, long])
    assert index.names() == ["k8s-mcp_pods_list", "k8s-mcp_pods_list_2", "x" * 64]
    assert index.get("k8s-mcp_pods_list") is a and index.get("k8s-mcp_pods_list_2") is b
    assert index.get("k8s-mcp.pods_list") is None  # only the names the model was given


def test_optional_fields_become_plain_types_and_cluster_is_hidden() -> None:
    params = function_parameters(LIST_PODS)
    assert "cluster" not in params["properties"] and "title" not in params
    assert params["properties"]["namespace"]["type"] == "string"
    assert "anyOf" not in str(params) and "additionalProperties" not in params
    assert function_parameters(SCALE)["required"] == ["namespace", "deployment", "replicas"]


def test_refs_are_inlined_and_a_parameter_called_title_survives() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "$defs": {"Mode": {"title": "Mode", "enum": ["fast", "slow"], "type": "string"}},
        "properties": {"title": {"type": "string"}, "mode": {"$ref": "#/$defs/Mode", "default": "fast"}},
        "required": ["title"],
    }
    params = function_parameters(_tool("t", schema))
    assert params["properties"] == {
        "title": {"type": "string"},
        "mode": {"enum": ["fast", "slow"], "type": "string", "default": "fast"},
    }
    assert params["required"] == ["title"] and "$defs" not in params


def test_a_mutating_tool_says_it_only_proposes_a_change() -> None:
    (tool,) = ToolIndex([SCALE]).openai_tools()
    assert "a human must approve it" in tool["function"]["description"]
