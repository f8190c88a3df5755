"""Mentions, from the typed `Mention` block to each platform's form (pure).

Ids are validated here, so nothing but a well-formed id of the platform's own kind ever reaches markup or an at
list: Feishu open ids (`ou_…`) become `<at id=ou_…></at>` in card markdown and `<at id=all></at>` for everyone
(open.feishu.cn card JSON 2.0 markdown "@指定人 / @所有人"); DingTalk staff ids go in the card delivery's
`imGroupOpenDeliverModel.atUserIds` ({staffId: name}, or {"@ALL": "@ALL"}: dingtalk_stream card_replier.py
`create_and_deliver_card`), with the names shown as text in the card (DingTalk draws no @ in card markdown).
Everywhere else (console) a mention is the visible text `@name`.
"""

from __future__ import annotations

import re

from bot.core.i18n import Lang, tr
from bot.render.model import Card, Mention

MAX_MENTIONED = 20  # a card @-ing more people than this is a routing mistake; the rest are not notified
FEISHU_OPEN_ID = re.compile(r"^ou_[0-9A-Za-z_-]{1,64}$")
DINGTALK_STAFF_ID = re.compile(r"^[0-9A-Za-z_$-]{1,64}$")
_ID_RULES = {"feishu": FEISHU_OPEN_ID, "dingtalk": DINGTALK_STAFF_ID}


def people_on(mention: Mention, platform: str) -> list[tuple[str, str]]:
    """(user id, display name) of the people this platform can @: its own subjects with a well-formed id."""
    rule = _ID_RULES.get(platform)
    out: list[tuple[str, str]] = []
    for subject, name in mention.people:
        plat, _, user_id = subject.partition(":")
        if plat == platform and rule is not None and rule.match(user_id) and user_id not in {u for u, _ in out}:
            out.append((user_id, name or user_id))
    return out[:MAX_MENTIONED]


def visible_names(mention: Mention, lang: Lang, platform: str | None = None) -> str:
    """`@所有人` / `@张三 @李四` as text (console, DingTalk card text). With a platform, only the people it can @."""
    if mention.everyone:
        return tr(lang, "@所有人", "@all")
    if platform is None:
        people = [(s, n or s.partition(":")[2]) for s, n in mention.people[:MAX_MENTIONED]]
    else:
        people = people_on(mention, platform)
    return " ".join("@" + name for _, name in people)


def feishu_at_markup(mention: Mention) -> str:
    """`<at id=...></at>` tags from validated open ids only (the caller escapes everything else)."""
    if mention.everyone:
        return "<at id=all></at>"
    return " ".join(f"<at id={user_id}></at>" for user_id, _ in people_on(mention, "feishu"))


def dingtalk_at_users(card: Card) -> dict[str, str]:
    """The card delivery's `atUserIds`: {"@ALL": "@ALL"} when any mention is @all, else {staffId: name}."""
    at: dict[str, str] = {}
    for block in card.blocks:
        if isinstance(block, Mention):
            if block.everyone:
                return {"@ALL": "@ALL"}
            for user_id, name in people_on(block, "dingtalk"):
                at.setdefault(user_id, name)
    return dict(list(at.items())[:MAX_MENTIONED])


def urgent_people(card: Card, platform: str) -> list[tuple[str, str]]:
    """Whom to escalate to when the card is first sent: the people of its urgent mentions on this platform."""
    out: list[tuple[str, str]] = []
    for block in card.blocks:
        if isinstance(block, Mention) and block.urgent:
            out += [p for p in people_on(block, platform) if p not in out]
    return out[:MAX_MENTIONED]


def is_urgent(card: Card) -> bool:
    return any(isinstance(b, Mention) and b.urgent for b in card.blocks)
