"""A one-line description of the request being completed ("查看 `cart-service` 的日志"), for question cards."""

from __future__ import annotations

from bot.conversation.state import Flow
from bot.core.i18n import Lang, tr
from bot.tooling.types import ToolInfo

# Parameters said in words, in the user's language: "最后 3 行", not `tail_lines=3`
_PARAM_WORDS: dict[str, tuple[str, str]] = {
    "tail_lines": ("最后 {v} 行", "last {v} lines"),
    "replicas": ("{v} 个副本", "{v} replicas"),
    "previous": ("上一次（崩溃前）的日志", "previous (crashed) instance"),
    "warnings_only": ("只看告警", "warnings only"),
    "only_unhealthy": ("只看异常", "unhealthy only"),
    "revision": ("版本 {v}", "revision {v}"),
    "container": ("容器 {v}", "container {v}"),
    "follow": ("实时跟踪", "followed live"),  # `/logs -f` (bot.conversation.following)
}


def _part(lang: Lang, key: str, value: object) -> str:
    if key in _PARAM_WORDS:
        zh, en = _PARAM_WORDS[key]
        return tr(lang, zh, en, v=value)
    if value is True:
        return f"`{key}`"
    if isinstance(value, int):
        return f"`{key}={value}`"  # an external tool's number: its own name is all we have
    return f"`{value}`"  # names read as themselves (`dev` `web-1`)


def describe_request(lang: Lang, info: ToolInfo, flow: Flow) -> str:
    parts = [_part(lang, k, v) for k, v in flow.args.items() if v not in (None, "", False) and k != "cluster"]
    shown = {str(v) for v in flow.args.values()}
    hint = next((h for h in flow.hints.values() if h and h not in shown), None)  # not twice: `x` 「x」
    if hint:
        parts.append(tr(lang, "「{h}」", '"{h}"', h=hint))
    detail = " ".join(parts)
    action = info.title(lang.value)
    if info.mutates:
        return tr(
            lang,
            "**{a}**（修改操作，会先预览再确认）{d}",
            "**{a}** (a change: previewed, then confirmed) {d}",
            a=action,
            d=detail,
        )
    return tr(lang, "**{a}** {d}", "**{a}** {d}", a=action, d=detail).rstrip()
