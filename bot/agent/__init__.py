"""The LLM planner: an OpenAI-compatible tool-calling loop (`OpenAIPlanner`) and tool selection."""

from bot.agent.planner import OpenAIPlanner
from bot.agent.port import AgentTurn, CallTool, OnProgress, Planner
from bot.agent.selection import select_tools

__all__ = ["AgentTurn", "CallTool", "OnProgress", "OpenAIPlanner", "Planner", "select_tools"]
