"""Conversation state kept in the store per user per chat: the active flow, context memory, recent turns."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

MAX_TURNS = 12  # recent turns offered to the LLM; older ones are dropped
MAX_TURN_CHARS = 600
MAX_OPTIONS = 300  # options remembered for matching typed answers; the cards page through them


class Flow(BaseModel):
    """A tool call being completed by asking for its missing parameters."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    hints: dict[str, str] = Field(default_factory=dict)  # slot -> the user's fuzzy words ("cart-service")
    slot: str | None = None  # the parameter being asked
    options: list[str] = Field(default_factory=list)  # values offered for `slot`
    complete: bool = False  # `options` is the full list (not a "found it here" shortlist)
    page: int = 0
    plan: bool = False  # a health check: show the plan and ask before running
    crashing: list[str] = Field(default_factory=list)  # offered pods that are crash-looping (next steps differ)
    recovered: bool = False  # a NOT_FOUND was already recovered from once (never loop re-asking)
    # pod -> its only container, for pods just offered: lets a logs call skip reading the pod again
    containers: dict[str, str] = Field(default_factory=dict)
    answered: list[str] = Field(default_factory=list)  # slots the user answered, in order ("返回" undoes the last)


class Memory(BaseModel):
    cluster: str | None = None  # pinned with /use cluster
    namespace: str | None = None  # pinned with /use ns
    pod: str | None = None  # last pod mentioned ("its events")
    pod_namespace: str | None = None
    deployment: str | None = None
    deployment_namespace: str | None = None
    node: str | None = None
    listed: list[list[str]] = Field(default_factory=list)  # [namespace, pod] rows of the last pod list shown
    last_namespace: str | None = None  # the namespace of the last read: not asked for again in the next one
    last_tool: str | None = None  # the last read, for "那 production 呢" (the same question about another thing)
    last_args: dict[str, Any] = Field(default_factory=dict)


class ConvState(BaseModel):
    flow: Flow | None = None
    memory: Memory = Field(default_factory=Memory)
    turns: list[dict[str, str]] = Field(default_factory=list)
    lang: str | None = None
    greeted: bool = False
    # the card a typed "yes"/"no" answers: {"yes": {"op", "args"}, "no": {...} | None, "ref": card ref}
    pending: dict[str, Any] | None = None

    def add_turn(self, role: str, content: str) -> None:
        text = content if len(content) <= MAX_TURN_CHARS else content[: MAX_TURN_CHARS - 14] + " … (truncated)"
        self.turns.append({"role": role, "content": text})
        del self.turns[:-MAX_TURNS]
