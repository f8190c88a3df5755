"""The bot's view of tools, whatever their source (built-in catalogue in-process, or an MCP server)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str  # unique in the gateway; external tools are prefixed with their server's name
    description: str
    input_schema: dict[str, Any]
    mutates: bool  # treated as mutating unless a trusted source says otherwise
    risk: str = "read"  # tools.spec.Risk values
    verb: str = "get"
    resource: str = ""
    title_en: str = ""
    title_zh: str = ""
    source: str = "builtin"
    annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.input_schema.get("required", ()))

    @property
    def properties(self) -> dict[str, Any]:
        props = self.input_schema.get("properties", {})
        return props if isinstance(props, dict) else {}

    def title(self, lang: str) -> str:
        if lang == "zh" and self.title_zh:
            return self.title_zh
        return self.title_en or self.name


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool: str
    args: dict[str, Any]

    def canonical(self) -> str:
        return json.dumps({"tool": self.tool, "args": self.args}, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """The hash an approval is bound to: exactly this tool with exactly these arguments."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    ok: bool
    data: dict[str, Any] | None = None  # structured result (the tool's result model, as JSON)
    text: str = ""  # plain text form (external tools often give only this)
    error_code: str | None = None  # tools.spec.ErrorCode values
    error: str | None = None  # human-readable error, with the upstream message


class ToolSource(Protocol):
    """A provider of tools: the built-in catalogue, or one MCP server."""

    name: str

    async def list_tools(self) -> list[ToolInfo]: ...

    async def call(self, call: ToolCall) -> ToolOutcome: ...
