"""The shared hostile-string corpus, and checkers that find live markup in what a renderer produced.

Each payload is something the cluster (image names, annotations, event messages, log lines), an external MCP
tool, the LLM or a user can put in front of the renderer. The checkers read rendered text the way the platform
would and report anything that would be live: a tag (mention, font, link), a markdown link or image, a block
construct at a line start, a bare URL, a code fence that content closed, or a terminal control sequence.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel

# The two payloads of issue #11, verbatim.
IMAGE = "registry.example.com/app<at id=all></at>[Approve now](https://evil.example/approve):1"
EVENT = (
    "<at id=all></at> Back-off restarting failed container [Open runbook](https://evil.example.com/login) "
    "<font color='red'>URGENT</font>"
)

# Entities that spell a tag: harmless as raw text, but they must be shown as written (`&` escaped), not decoded.
ENTITIES = "&lt;at id=all&gt;&lt;/at&gt; &#60;at id=all&#62; &#x3c;font&#x3e;"

HOSTILE: tuple[str, ...] = (
    IMAGE,
    EVENT,
    '<at user_id="all">所有人</at> <at id=ou_123></at>',
    '<a href="https://evil.example">click</a> <link url="https://evil.example">x</link>',
    "<text_tag color='red'>P0</text_tag> <number_tag>9</number_tag> <person id='ou_1'></person>",
    "![logo](img_v2_evil) ![](https://evil.example/pixel.png)",
    "[Approve](https://evil.example/a) [x]: https://evil.example/ref",
    "**bold** *it* _it_ ~~gone~~ `code` $var ${var} | a | b |",
    "```",
    "````\n<at id=all></at> [x](https://evil.example)\n````",
    "ok\n```\n# Heading after a closed fence\n> quote\n1. item\n- item\n+ item\n===",
    "~~~\n<at id=all></at>\n~~~",
    ENTITIES,
    "\\<at id=all\\>\\</at\\> \\[x\\]\\(https://evil.example\\)",
    "see https://evil.example.com/login now",
    "\x1b[31mred\x1b[0m \x1b]0;pwned title\x07 \x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "\x9b2J C1 CSI \x85 NEL \x00 NUL \x07 BEL \x7f DEL \r carriage",
    "\u202egnp.exe \u2066isolate\u2069 \u200fRLM \u2028 line-sep",
    "中文 <at id=all></at> 请立即[批准](https://evil.example/批准)",
)

# --- markdown -----------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TAG = re.compile(r"<\s*/?\s*[A-Za-z!?]")
_LINK_FEISHU = re.compile(r"\]\s*\(")
_LINK_DINGTALK = re.compile(r"(?<!\\)\]\s*\(")
_IMAGE_FEISHU = re.compile(r"!\[")
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://")
_STRIKE = re.compile(r"~~")
_VARIABLE = re.compile(r"(?<!\\)\$\{")
_BLOCK_START = re.compile(r"^[ \t]{0,3}(#|>|\d+[.)]\s|=+\s*$|\+\s|\*\s)")


def split_code(markdown: str) -> tuple[list[str], list[list[str]], list[str]]:
    """(lines outside code blocks, the blocks' content lines, problems with fences)."""
    outside: list[str] = []
    blocks: list[list[str]] = []
    problems: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                blocks.append([])
                if line.strip() != fence:
                    problems.append(f"fence with an info string or text: {line!r}")
            else:
                outside.append(line)
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
            if line.strip() != m.group(1):
                problems.append(f"closing fence with text: {line!r}")
            fence = None
        else:
            blocks[-1].append(line)
    if fence is not None:
        problems.append("a code block is never closed")
    return outside, blocks, problems


def live_markup(markdown: str, platform: str) -> list[str]:
    """What in `markdown` would render as markup we did not write (empty: nothing). `platform`: feishu|dingtalk.
    Our own light markdown (`**bold**`, `` `code` ``, `- ` items) is allowed; nothing else."""
    outside, blocks, problems = split_code(markdown)
    found = list(problems)
    link = _LINK_FEISHU if platform == "feishu" else _LINK_DINGTALK
    for line in outside:
        checks = (("tag", _TAG), ("link", link), ("url", _URL), ("strike", _STRIKE), ("variable", _VARIABLE))
        for name, pattern in checks:
            if pattern.search(line):
                found.append(f"{name}: {line!r}")
        if platform == "feishu" and _IMAGE_FEISHU.search(line):
            found.append(f"image: {line!r}")
        if _BLOCK_START.match(line):
            found.append(f"block construct: {line!r}")
    for block in blocks:
        for line in block:
            if _TAG.search(line):  # a renderer that looks for tags inside code must not find one
                found.append(f"tag in code: {line!r}")
    return found


# --- console ------------------------------------------------------------------------------------------------

_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def live_terminal(text: str) -> list[str]:
    return [repr(m.group(0)) for m in _TERMINAL.finditer(text)]


# --- rendered documents -------------------------------------------------------------------------------------


def feishu_markdown(doc: dict[str, Any]) -> list[str]:
    """Every markdown text of a Feishu card JSON 2.0 (other strings are plain_text / text cells)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("tag") in ("markdown", "lark_md"):
                out.append(str(node.get("content", "")))
            for key, value in node.items():
                if key == "rows":
                    continue  # table cells are `data_type: text`: plain text
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return out


def feishu_plain_fields_are_plain(doc: dict[str, Any]) -> list[str]:
    """Table columns must stay plain text, or their raw cells would be live."""
    bad: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("tag") == "table":
                bad.extend(str(c) for c in node.get("columns", []) if c.get("data_type") != "text")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return bad


def dingtalk_markdown(data: dict[str, str]) -> list[str]:
    return [data["markdown"], data["footer"]]


# --- hostile instances of the tool result models ------------------------------------------------------------


def hostile_instance(model: type[BaseModel], payload: str) -> dict[str, Any]:
    """A dict that validates as `model` with `payload` in every string field (lists get two items)."""
    return {name: _value(field.annotation, payload) for name, field in model.model_fields.items()}


def _value(annotation: Any, payload: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _value(args[0], payload)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _value(real[0], payload)
    if origin is typing.Literal:
        return args[0]
    if origin in (list, tuple, set, frozenset):
        return [_value(args[0], payload), _value(args[0], payload)] if args else []
    if origin is dict:
        return {payload[:40] or "k": _value(args[1], payload)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return hostile_instance(annotation, payload)
    if annotation is bool:
        return False
    if annotation is int:
        return 3
    if annotation is float:
        return 1.5
    return payload
