"""Our `ToolInfo`s as OpenAI function tools, and the way back from a model's call to our tool.

Function names must match ^[a-zA-Z0-9_-]{1,64}$ on most providers, while gateway names may hold dots or be long
(`k8s-mcp.pods_list`), so names are sanitised, de-duplicated and mapped back. Schemas are simplified to the
subset every provider accepts. `cluster` is not offered: the
planner fills it from the conversation's context, so the model can neither invent a cluster nor forget it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from bot.tooling.types import ToolInfo

_BAD = re.compile(r"[^a-zA-Z0-9_-]")
MAX_NAME = 64
MAX_DESCRIPTION = 1_000
HIDDEN_PARAMS = ("cluster",)


def sanitise(name: str) -> str:
    return (_BAD.sub("_", name) or "tool")[:MAX_NAME]


def simplify(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """A plainer JSON schema that every provider accepts (Gemini, vLLM, DashScope are picky).

    Inlines local `$ref`s, turns `anyOf [X, null]` into X (optional is already said by `required`), drops
    titles, null defaults and `additionalProperties`. Arguments are still validated against the full schema.
    """
    if isinstance(node, list):
        return [simplify(v, defs, depth) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and depth < 8:
        target = defs.get(ref.removeprefix("#/$defs/"), {})
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return simplify(merged, defs, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs", "additionalProperties") or (key == "default" and value is None):
            continue
        if key == "properties" and isinstance(value, dict):  # names of parameters, not keywords: keep them all
            out[key] = {name: simplify(sub, defs, depth) for name, sub in value.items()}
        elif key in ("enum", "const", "required", "pattern", "default", "examples"):
            out[key] = value
        else:
            out[key] = simplify(value, defs, depth)
    branches = out.get("anyOf")
    if isinstance(branches, list):
        real = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
        if len(real) == 1 and isinstance(real[0], dict):
            del out["anyOf"]
            out = {**real[0], **out}
    return out


def function_parameters(info: ToolInfo) -> dict[str, Any]:
    raw = info.input_schema if isinstance(info.input_schema, dict) else {}
    defs = raw.get("$defs", {}) if isinstance(raw.get("$defs"), dict) else {}
    schema = simplify(copy.deepcopy(raw), defs)
    props = schema.get("properties")
    if not isinstance(props, dict):
        props = {}
    for hidden in HIDDEN_PARAMS:
        props.pop(hidden, None)
    schema["type"] = "object"
    schema["properties"] = props
    required = [r for r in schema.get("required", []) if r not in HIDDEN_PARAMS]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)
    return schema


def function_description(info: ToolInfo) -> str:
    text = info.description.strip() or info.title_en or info.name
    if info.mutates:
        # The model should know a call here is a proposal a human approves, not an action it takes.
        text += " [CHANGES THE CLUSTER: calling it only proposes the change; a human must approve it.]"
    return text[:MAX_DESCRIPTION]


@dataclass
class ToolIndex:
    """The offered tools, by the name the model sees."""

    tools: list[ToolInfo]
    by_name: dict[str, ToolInfo] = field(init=False, default_factory=dict)
    model_name: dict[str, str] = field(init=False, default_factory=dict)  # our name -> the model's

    def __post_init__(self) -> None:
        for info in self.tools:
            if info.name in self.model_name:
                continue
            base = sanitise(info.name)
            name, n = base, 2
            while name in self.by_name:
                suffix = f"_{n}"
                name, n = base[: MAX_NAME - len(suffix)] + suffix, n + 1
            self.by_name[name] = info
            self.model_name[info.name] = name

    def get(self, model_name: str) -> ToolInfo | None:
        return self.by_name.get(model_name)

    def names(self) -> list[str]:
        return list(self.by_name)

    def openai_tools(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": function_description(info),
                    "parameters": function_parameters(info),
                },
            }
            for name, info in self.by_name.items()
        ]
