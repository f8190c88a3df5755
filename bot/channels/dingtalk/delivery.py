"""How one DingTalk reply reaches the chat: an advanced card with per-user buttons, or, without a card template,
a markdown message whose buttons become typed replies.

With a template (DINGTALK_CARD_TEMPLATE_ID): buttons meant for some people (`Button.audience`, the approvers of a
change) go to them alone through `privateData`; the users who ever got private data on a card are remembered
(Redis, by outTrackId), because DingTalk keeps a user's private values until they are overwritten: every later
update of that card gives them the new buttons too, so an approver's Approve button goes away with the card's.

Without a template, a robot markdown message cannot carry buttons. We chose typed replies over refusing to start
(a team trying KubeDuty before building a card template still gets a working bot): the buttons are listed as
numbers ("回复序号") for the person the card answered, and a button meant for some people (Approve, a requester's
Confirm) is shown as a short code that anyone in the chat may type. Either reply is turned back into the click of
that exact signed button (`typed_click`), so it goes through the same checks as a click: signature and expiry,
the chat it belongs to, the gate's who-may-confirm and its exactly-once state moves.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.channels.dingtalk.aicard import update_window
from bot.channels.dingtalk.api import DingTalkApi
from bot.core.actions import Action, InvalidPayload
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent
from bot.core.i18n import Lang, detect_lang, tr
from bot.render.dingtalk import MARKDOWN_BYTES, MAX_CARD_BYTES, DingTalkCard, render_dingtalk_card
from bot.render.escape import dingtalk_text
from bot.render.model import Button, Card
from bot.render.templates import card_lang

log = logging.getLogger(__name__)

PRIVATE_TTL = 24 * 3600  # who has private data on a card: as long as the approval's final record lives
TYPED_TTL = 3600  # a numbered list or a code; the button's own signature expiry still applies inside it
# A code is remembered (no longer usable) this much longer, so a late or misplaced one gets a reason, not "what?"
CODE_MEMORY = 7 * 24 * 3600
NOTICE_TTL = 24 * 3600  # a redelivered message does not repeat a code notice
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on a phone
CODE_LEN = 4
MAX_NUMBERED = 30  # buttons listed as numbers; a card has far fewer

_NUMBER = re.compile(r"^\s*(?:第\s*)?(\d{1,2})\s*(?:个|号)?\s*$")
_CODE = re.compile(r"^\s*(?:[^\sA-Za-z0-9]{1,4}\s*|[A-Za-z]{1,8}\s+)?([A-Za-z2-9]{4})\s*$")
# Words that say "this is a code" even when the code is unknown ("批准 ZZ9Z"); without one, only a code typed in
# capitals is answered as a code, so an ordinary reply ("app2", "show web3") is never taken for one.
_CODE_INTENT = re.compile(r"^\s*(?:批准|同意|确认|执行|approve|confirm)\s*[A-Za-z2-9]{4}\s*$", re.IGNORECASE)

Signer = Callable[[Action], str]


class _Keys(Protocol):
    def cache(self, kind: str, scope: str) -> str: ...

    def seen(self, event_id: str, state_key: str | None = None) -> str: ...


class CardStore(Protocol):
    """The part of `bot.store.Store` used here: best-effort cache entries with TTLs."""

    @property
    def keys(self) -> _Keys: ...

    async def get_json(self, key: str) -> Any | None: ...

    async def set_json(self, key: str, value: Any, ttl: int) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def first_seen(self, key: str, ttl: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class Where:
    chat_key: str
    conversation_id: str
    is_group: bool
    user_id: str  # the person the reply answers

    @property
    def group_id(self) -> str | None:
        return self.conversation_id if self.is_group else None

    @property
    def dm_user(self) -> str | None:
        return None if self.is_group else self.user_id


def _numbers_key(store: CardStore, chat_key: str, user_id: str) -> str:
    return store.keys.cache("dt-numbers", f"{chat_key}|{user_id}")


def _code_key(store: CardStore, chat_key: str, code: str) -> str:
    return store.keys.cache("dt-code", f"{chat_key}|{code.upper()}")


def _issued_key(store: CardStore, code: str) -> str:
    """Where a code was issued, for CODE_MEMORY: to tell an expired or misplaced code from a mistyped one."""
    return store.keys.cache("dt-code-issued", code.upper())


def new_code() -> str:
    """4 characters with a digit and a letter, so no word a person types ("pods", "2024") is ever a code."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LEN))
        if any(c.isdigit() for c in code) and any(c.isalpha() for c in code):
            return code


class CardDelivery:
    def __init__(self, *, api: DingTalkApi, store: CardStore | None, template_id: str | None) -> None:
        self._api = api
        self._store = store
        self._template_id = template_id

    def render(
        self,
        card: Card,
        where: Where,
        sign: Signer,
        lang: Lang,
        also: tuple[str, ...] = (),
        max_bytes: int = MAX_CARD_BYTES,
    ) -> DingTalkCard:
        return render_dingtalk_card(
            card,
            sign=sign,
            conversation_id=where.conversation_id,
            is_group=where.is_group,
            lang=lang,
            also=also,
            max_bytes=max_bytes,
        )

    async def _viewers(self, ref: str) -> list[str]:
        if self._store is None:
            return []
        got = await self._store.get_json(self._store.keys.cache("dt-private", ref))
        return [str(u) for u in got] if isinstance(got, list) else []

    async def _remember(self, ref: str, users: list[str]) -> None:
        if self._store is not None and users:
            await self._store.set_json(self._store.keys.cache("dt-private", ref), sorted(users), PRIVATE_TTL)

    async def send(self, card: Card, where: Where, sign: Signer, lang: Lang) -> str | None:
        if self._template_id is None:
            await self._send_markdown(card, where, sign, lang)
            return None
        out = self.render(card, where, sign, lang)
        ref = await self._api.send_card(
            self._template_id,
            out.public,
            conversation_id=where.group_id,
            user_id=where.dm_user,
            private=out.private or None,
            at_users=out.at_users or None,
            preview=out.preview,
        )
        await self._remember(ref, list(out.private))
        return ref

    async def update(self, ref: str, card: Card, where: Where, sign: Signer, lang: Lang) -> None:
        if self._template_id is None:
            await self._send_markdown(card, where, sign, lang)
            return
        before = await self._viewers(ref)
        out = self.render(card, where, sign, lang, also=tuple(before))
        async with update_window(self._api).slot():  # the tenant's card-update QPS, shared with AI cards
            await self._api.update_card(ref, out.public, private=out.private or None)
        new = [u for u in out.private if u not in before]
        if new:
            await self._remember(ref, before + new)

    # --- without a template: markdown, numbered replies and codes --------------------------------------------

    async def _send_markdown(self, card: Card, where: Where, sign: Signer, lang: Lang) -> None:
        use = card_lang(card, lang)
        out = self.render(replace(card, buttons=()), where, sign, use, max_bytes=MARKDOWN_BYTES)
        data = out.public
        lines: list[str] = []
        numbered: dict[str, dict[str, str]] = {}
        public = [b for b in card.buttons if not b.audience][:MAX_NUMBERED]
        for button in public:
            payload = _sign(sign, button)
            if payload is None:
                continue
            n = str(len(numbered) + 1)
            numbered[n] = {"p": payload, "l": use.value}
            lines.append(f"{n}. {dingtalk_text(button.label)}")
        if lines:
            lines.insert(0, tr(use, "**回复序号**：", "**Reply with a number**:"))
        for button in (b for b in card.buttons if b.audience):
            payload = _sign(sign, button)
            if payload is None:
                continue
            code = new_code()
            if self._store is not None:
                await self._store.set_json(
                    _code_key(self._store, where.chat_key, code), {"p": payload, "l": use.value}, TYPED_TTL
                )
                issued = {"chat": where.chat_key, "l": use.value}
                await self._store.set_json(_issued_key(self._store, code), issued, CODE_MEMORY)
            lines.append(
                tr(
                    use,
                    "回复 `{c}`：{b}（仅限 {who}）",
                    "Reply `{c}`: {b} (only {who})",
                    c=code,
                    b=dingtalk_text(button.label),
                    who=_who(use, button, out),
                )
            )
        if self._store is not None and numbered:
            await self._store.set_json(_numbers_key(self._store, where.chat_key, where.user_id), numbered, TYPED_TTL)
        parts = [data.get("markdown", ""), "\n".join(lines), data.get("footer", "")]
        text = "\n\n".join(p for p in parts if p)
        # The robot message API has no at-list: the card's Mention block already names the people in the text
        # (no notification; a gap of markdown mode, said in the README's DingTalk section).
        await self._api.send_markdown(
            data["title"],
            f"#### {dingtalk_text(data['title'])}\n\n{text}",
            conversation_id=where.group_id,
            user_id=where.dm_user,
        )


def _sign(sign: Signer, button: Button) -> str | None:
    try:
        return sign(button.action)
    except InvalidPayload:
        return None


def _who(lang: Lang, button: Button, out: DingTalkCard) -> str:
    names = [out.at_users.get(s.partition(":")[2], s.partition(":")[2]) for s in button.audience]
    shown = ", ".join(dingtalk_text(n) for n in names[:5])
    return shown + (tr(lang, " 等", " and others") if len(names) > 5 else "")


@dataclass(frozen=True, slots=True)
class CodeNotice:
    """A reply that is a code but no usable one: answered with this short notice, and nothing runs."""

    text: str


async def typed_click(event: InboundEvent, store: CardStore | None) -> InboundEvent | CodeNotice | None:
    """A reply that is a number of the latest list sent to this person, or a code shown in this chat, becomes the
    click of that button (same signed payload, so the same checks run); any other message stays a message. A code
    that cannot be used (expired, from another chat, mistyped) gets a `CodeNotice` in the card's language; None is
    a redelivery of a message whose notice was already given."""
    if not isinstance(event, MessageEvent) or store is None:
        return event
    chat_key = event.conversation.chat_key
    found: dict[str, str] | None = None
    number = _NUMBER.match(event.text)
    word = ""
    if number:
        key = _numbers_key(store, chat_key, event.sender.user_id)
        listed = await store.get_json(key)
        item = listed.get(number.group(1)) if isinstance(listed, dict) else None
        if isinstance(item, dict):
            found = item
            await store.delete(key)  # a number means the LATEST list, once; a second "2" is an ordinary reply
    else:
        code = _CODE.match(event.text)
        word = code.group(1) if code else ""
        if word and any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
            item = await store.get_json(_code_key(store, chat_key, word))
            found = item if isinstance(item, dict) else None
        else:
            word = ""
    if word and not (found and isinstance(found.get("p"), str)):
        return await _code_notice(event, store, word)
    if not found or not isinstance(found.get("p"), str):
        return event
    lang = Lang.EN if found.get("l") == Lang.EN.value else Lang.ZH
    return CardActionEvent(
        event_id=event.event_id,
        conversation=event.conversation,
        sender=event.sender,
        payload=str(found["p"]),
        message_ref=None,
        lang=lang,
        received_at=event.received_at,
    )


async def _code_notice(event: MessageEvent, store: CardStore, word: str) -> InboundEvent | CodeNotice | None:
    code = word.upper()
    issued = await store.get_json(_issued_key(store, code))
    meant = _CODE_INTENT.match(event.text) is not None or (word.isupper() and all(c in CODE_ALPHABET for c in word))
    here = isinstance(issued, dict) and issued.get("chat") == event.conversation.chat_key
    if not meant and not here:
        return event  # an ordinary word that looks like a code (or matches one issued in some other chat)
    if not await store.first_seen(store.keys.seen(f"dt-code|{event.event_id}"), NOTICE_TTL):
        return None
    if not isinstance(issued, dict):
        lang = detect_lang(event.text, Lang.ZH)
        return CodeNotice(
            tr(
                lang,
                "这个聊天里没有代码 {c}，没有执行任何操作。请回复卡片上显示的代码。",
                "There is no code {c} in this chat; nothing was run. Reply with the code shown on the card.",
                c=code,
            )
        )
    lang = Lang.EN if issued.get("l") == Lang.EN.value else Lang.ZH
    if issued.get("chat") != event.conversation.chat_key:
        return CodeNotice(
            tr(
                lang,
                "代码 {c} 属于另一个聊天，在这里无效，没有执行任何操作。请在发出它的卡片所在的聊天里回复。",
                "Code {c} belongs to another chat and does nothing here. Reply with it where its card was posted.",
                c=code,
            )
        )
    return CodeNotice(
        tr(
            lang,
            "代码 {c} 已过期（代码 {h} 小时内有效），没有执行任何操作。请重新发起请求，获取新的代码。",
            "Code {c} has expired (codes last {h} hour); nothing was run. Ask again for a new code.",
            c=code,
            h=TYPED_TTL // 3600,
        )
    )


def button_lang(content: Any) -> Lang | None:
    """The clicked card's language from a callback's `cardPrivateData.actionIds` (the template names a button
    `btn<i>.<lang>`, see cards/dingtalk/card.json.j2)."""
    private = content.get("cardPrivateData") if isinstance(content, dict) else None
    ids = private.get("actionIds") if isinstance(private, dict) else None
    first = ids[0] if isinstance(ids, list) and ids else ""
    raw = str(first).rpartition(".")[2]
    return Lang(raw) if raw in {lang.value for lang in Lang} else None


__all__ = ["CardDelivery", "CodeNotice", "Where", "button_lang", "typed_click"]
