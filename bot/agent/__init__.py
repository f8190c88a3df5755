"""The LLM planner: an OpenAI-compatible tool-calling loop (`OpenAIPlanner`) and tool selection.

Names are loaded on first use (PEP 562): importing `bot.agent.port` for its types must not import the `openai`
client (a second of start-up and tens of MiB) when no LLM is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.agent.planner import OpenAIPlanner
    from bot.agent.port import AgentTurn, CallTool, OnProgress, Planner
    from bot.agent.selection import select_tools

__all__ = ["AgentTurn", "CallTool", "OnProgress", "OpenAIPlanner", "Planner", "select_tools"]

_WHERE = {
    "OpenAIPlanner": "bot.agent.planner",
    "AgentTurn": "bot.agent.port",
    "CallTool": "bot.agent.port",
    "OnProgress": "bot.agent.port",
    "Planner": "bot.agent.port",
    "select_tools": "bot.agent.selection",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'bot.agent' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
