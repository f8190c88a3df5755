"""What one message asks for: the `Intent` the parsers produce and the engine acts on."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TOOL = "tool"
    HELP = "help"
    RESET = "reset"
    REFRESH = "refresh"
    USE_NS = "use_ns"
    USE_CLUSTER = "use_cluster"
    CANCEL = "cancel"  # also the typed "no" / "算了" to a plan or a confirmation
    YES = "yes"  # "好的" / "执行" / "yes": the pending plan or confirmation card's main button
    BACK = "back"  # "返回": the previous question again
    MORE = "more"  # "更多": the next page of choices
    SWITCH = "switch"  # "切到 staging 集群": value = the name, tool = "cluster" | "namespace" | None (either)
    REFUSE = "refuse"  # exec, secrets, delete namespace, weather ...: value = the refusal's key
    TOO_LONG = "too_long"  # longer than any request: answered before any parsing
    GREET = "greet"
    AUDIT = "audit"  # /audit [n]: recent audit entries (the gate decides who may see them)
    STATUS = "status"  # /status: cluster overview plus the health of the tool sources
    UNKNOWN_COMMAND = "unknown_command"
    BAD_COMMAND = "bad_command"  # a known command with unusable arguments
    NONE = "none"  # nothing recognised


@dataclass(frozen=True)
class Intent:
    kind: Kind
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # exact values
    hints: dict[str, str] = field(default_factory=dict)  # slot -> fuzzy words
    refers: bool = False  # "its events" / "它的日志": the last pod mentioned
    plan: bool = False  # a health check to confirm before running
    value: str | None = None  # /use ns|cluster argument; the bad command's name; the switch target
    slash: bool = False
    target: str | None = None  # the first name-like word ("production 的事件"): maybe a namespace, the engine checks
    position: int | None = None  # "第二个的日志": a row of the pod list just shown (1-based, -1 = the last)
    words: tuple[str, ...] = ()  # every name-like word not already placed, in order: resolved against the cluster
    scoped: bool = False  # args["namespace"] came from a weak cue ("X 的 Y", "在 X"): the engine may re-read it
    cluster: str | None = None  # "staging 集群 的 pod": a cluster word
