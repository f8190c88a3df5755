"""The seam between the conversation engine and the LLM planner (`bot.agent`).

The engine passes `call_tool`, which already applies policy, caching and redaction, and only ever executes
reads; a mutating call the model wants comes back in `proposed` for the approval path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.core.i18n import Lang
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome

CallTool = Callable[[ToolCall], Awaitable[ToolOutcome]]
OnProgress = Callable[[str], Awaitable[None]]  # partial answer text, for "working on it" cards that stream


@dataclass(slots=True)
class AgentTurn:
    answer: str = ""  # the model's final words to the user (user's language)
    executed: list[tuple[ToolCall, ToolOutcome]] = field(default_factory=list)  # reads it ran, in order
    proposed: list[ToolCall] = field(default_factory=list)  # mutations it wants: for the approval path
    incomplete: ToolCall | None = None  # a call it wanted but with required args missing: for slot filling
    failed: str | None = None  # set when the LLM failed (timeout, 429, bad output): a user-facing reason
    steps: int = 0


class Planner(Protocol):
    async def run(
        self,
        *,
        text: str,
        lang: Lang,
        tools: list[ToolInfo],
        call_tool: CallTool,
        history: list[dict[str, Any]],
        context: dict[str, str],
        on_progress: OnProgress | None = None,
    ) -> AgentTurn: ...
