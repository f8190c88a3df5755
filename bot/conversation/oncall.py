"""Which on-call command a message is, from the declared table (grammar.ONCALL_COMMANDS): a slash command or one
of its phrasings ("有哪些事件", "show incidents", "orders 的指标"). Pure matching; bot.alerts executes."""

from __future__ import annotations

from dataclasses import dataclass

from bot.conversation.grammar import ONCALL_BY_SLASH, ONCALL_COMMANDS
from bot.conversation.lexer import MAX_PARSE_CHARS, normalize

_TRAILING = "?？。.!！~ "


@dataclass(frozen=True)
class OnCallAsk:
    command: str  # canonical: "/incidents" | "/metrics"
    args: tuple[str, ...] = ()  # as typed after a slash command; for a phrasing: (name, "-n", ns) when said


def match_oncall(text: str) -> OnCallAsk | None:
    if len(text) > MAX_PARSE_CHARS:
        return None
    words = text.strip().split()
    if words and words[0].startswith("/"):
        declared = ONCALL_BY_SLASH.get(words[0].lower())
        return OnCallAsk(declared.command, tuple(words[1:])) if declared is not None else None
    said = normalize(text).strip(_TRAILING)
    for c in ONCALL_COMMANDS:
        m = next((hit for p in c.phrases if (hit := p.fullmatch(said)) is not None), None)
        if m is None:
            continue
        groups = m.groupdict()
        args: tuple[str, ...] = (groups["name"],) if groups.get("name") else ()
        if groups.get("ns"):
            args += ("-n", groups["ns"])
        return OnCallAsk(c.command, args)
    return None
