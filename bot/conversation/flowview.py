"""A one-line description of the request being completed ("查看 `cart-service` 的日志"), for question cards."""

from __future__ import annotations

from bot.conversation.state import Flow
from bot.core.i18n import Lang, tr
from bot.tooling.types import ToolInfo


def describe_request(lang: Lang, info: ToolInfo, flow: Flow) -> str:
    # names read as themselves (`dev` `web-1`); numbers and switches need their key (`tail_lines=50`, `previous`)
    parts = [
        f"`{k}`" if v is True else f"`{k}={v}`" if isinstance(v, int) else f"`{v}`"
        for k, v in flow.args.items()
        if v not in (None, "", False) and k != "cluster"
    ]
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
