"""Card view model -> the public data of a DingTalk advanced message card (template `cards/dingtalk/card.json.j2`).

Pure. Why the advanced card (消息卡片高级版, a card-builder template sent with `createAndDeliver`) and not the
ordinary robot interactive card (`StandardCard`): only the advanced card can deliver button clicks over the
Stream connection (`callbackType: "STREAM"`); the ordinary card supports HTTP callbacks only. Sources:
- open-dingtalk/developerpedia docs/learn/card/intro.md ("消息卡片普通版是否支持 Stream 模式回调？暂不支持");
- open-dingtalk/dingtalk-stream-sdk-python dingtalk_stream/card_replier.py (`cardData.cardParamMap`);
- open-dingtalk/dingtalk-card-examples examples/*/python/index.py (non-string values are JSON strings, see
  https://open.dingtalk.com/document/orgapp/instructions-for-filling-in-api-card-data; clicks read
  `content.cardPrivateData.params`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core.i18n import Lang
from bot.render.escape import DINGTALK
from bot.render.mentions import dingtalk_at_users
from bot.render.model import Card
from bot.render.templates import Signer, card_lang, fit, prepare_card, render_json

# DingTalk documents no byte limit for a card request that we could find (createAndDeliver / card instance update
# pages list none; third-party code claims 1 KB per cardParamMap value, contradicted by the multi-KB markdown values
# cards are sent with). Large bodies do fail, so the whole REQUEST BODY as sent (UTF-8 compact JSON, the card data
# plus every user's privateData, which repeats the buttons per approver) is held under 24,000 bytes, the margin the
# Feishu renderer uses under its documented 30 KB. ENVELOPE_BYTES is kept for the rest of the body (template and
# track ids, open space, preview, at-list), which `DingTalkApi` measures again before sending.
MAX_BODY_BYTES = 24_000
ENVELOPE_BYTES = 3_000
MAX_CARD_BYTES = MAX_BODY_BYTES - ENVELOPE_BYTES
# Robot messages (the markdown replies without a card template): no documented limit found either; a third-party
# client (agentscope's DingTalk channel constants) caps `msgParam` at 15,000 bytes, which we keep to. MARKDOWN_BYTES
# is the rendered card's share of it, leaving room for the numbered buttons and mentions added after rendering.
ROBOT_MSG_PARAM_BYTES = 15_000
MARKDOWN_BYTES = 11_000
# The chat list's one-line preview (`lastMessageI18n`, `lastMessage`): DingTalk shows one short line.
PREVIEW_CHARS = 60

# The template binds a button's look to `status` (SingleButton) or `color` (AI card style): both are given.
BUTTON_STATUS = {"default": "normal", "primary": "primary", "danger": "warning"}
BUTTON_COLOR = {"default": "gray", "primary": "blue", "danger": "red"}

# The variables the card template must declare (README "DingTalk"), and the params its button sends back.
TEMPLATE_VARIABLES = ("title", "lastMessage", "markdown", "footer", "buttons")
BUTTON_PARAMS = ("p", "cid", "g")


def render_dingtalk(
    card: Card,
    *,
    sign: Signer,
    conversation_id: str,
    is_group: bool,
    lang: Lang | str | None = None,
    max_bytes: int = MAX_CARD_BYTES,
) -> dict[str, str]:
    """The card's `cardParamMap`: every value a string, as the card API requires.

    Buttons carry the signed payload plus the conversation they were sent to: the card callback names the card
    (`outTrackId`) and the user, and the payload is bound to the chat by its signature, so a changed `cid` is
    refused."""
    use_lang = card_lang(card, lang)
    return fit(
        lambda limits: card_param_map(
            render_json(
                "dingtalk/card.json.j2",
                button_status=BUTTON_STATUS,
                button_color=BUTTON_COLOR,
                conversation_id=conversation_id,
                is_group="1" if is_group else "0",
                **prepare_card(card, sign=sign, lang=use_lang, limits=limits, dialect=DINGTALK, markdown_cells=True),
            )
        ),
        max_bytes,
        wire_size,
    )


def wire_size(public: dict[str, Any], private: dict[str, dict[str, str]] | None = None) -> int:
    """Bytes of the card's part of the request body as `DingTalkApi` serialises it (compact UTF-8 JSON; values that
    are JSON strings inside JSON pay for their escaped quotes)."""
    body: dict[str, Any] = {"cardData": {"cardParamMap": public}}
    if private:
        body["privateData"] = {user: {"cardParamMap": data} for user, data in private.items()}
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())


@dataclass(frozen=True, slots=True)
class DingTalkCard:
    """What one card sends: public data, per-user data (buttons only some people see), the people @-mentioned
    (staffId -> name, the delivery's at-list) and the chat-list preview per client language."""

    public: dict[str, str]
    private: dict[str, dict[str, str]] = field(default_factory=dict)
    at_users: dict[str, str] = field(default_factory=dict)
    preview: dict[str, str] = field(default_factory=dict)


def _staff(subject: str) -> str | None:
    platform, _, user = subject.partition(":")
    return user if platform == "dingtalk" and user else None


def _preview(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= PREVIEW_CHARS else one[: PREVIEW_CHARS - 1] + "…"


def render_dingtalk_card(
    card: Card,
    *,
    sign: Signer,
    conversation_id: str,
    is_group: bool,
    lang: Lang | str | None = None,
    max_bytes: int = MAX_CARD_BYTES,
    also: tuple[str, ...] = (),
) -> DingTalkCard:
    """`render_dingtalk` plus what the card data alone cannot say. A button with an `audience` is left out of the
    public data and given, through `privateData`, only to the DingTalk users in it (the Approve button for the
    approvers): DingTalk overlays a user's private `cardParamMap` on the public one for that user. The size check
    covers the public and every private map together, as sent.

    `also`: staff ids that got private data on this card before. DingTalk keeps a user's private values until
    they are overwritten, so they are given this card's buttons for them (the public ones when the card has no
    button for them any more): an approver's Approve button goes away when the change is done."""
    public_buttons = tuple(b for b in card.buttons if not b.audience)
    users = [u for b in card.buttons for u in map(_staff, b.audience) if u] + list(also)

    def render(view: Card, budget: int) -> dict[str, str]:
        return render_dingtalk(
            view, sign=sign, conversation_id=conversation_id, is_group=is_group, lang=lang, max_bytes=budget
        )

    private: dict[str, dict[str, str]] = {}
    rendered: dict[tuple[int, ...], dict[str, str]] = {}
    for user in dict.fromkeys(users):
        subject = f"dingtalk:{user}"
        shown = tuple(i for i, b in enumerate(card.buttons) if not b.audience or subject in b.audience)
        if shown not in rendered:  # every approver sees the same buttons: render them once
            view = replace(card, blocks=(), footer=None, buttons=tuple(card.buttons[i] for i in shown))
            rendered[shown] = {"buttons": render(view, max_bytes)["buttons"]}
        private[user] = rendered[shown]
    if private and not also and wire_size({}, private) > max_bytes * 2 // 3:
        # too many approvers to repeat the buttons for each within the limit: the buttons go public instead (the
        # gate refuses anyone else's click; the mention still names the approvers)
        private, public_buttons = {}, card.buttons
    budget = max_bytes - (wire_size({}, private) - wire_size({}) if private else 0)
    public = render(replace(card, buttons=public_buttons), budget)
    at_users = dingtalk_at_users(card)  # validated staff ids, or {"@ALL": "@ALL"} for a mention of everyone
    text = _preview(public.get("lastMessage") or card.title)
    # both client languages get the card's own text: a Chinese card reads Chinese in an English client's list too
    return DingTalkCard({**public, "lastMessage": text}, private, at_users, {"ZH_CN": text, "EN_US": text})


def card_param_map(doc: dict[str, Any]) -> dict[str, str]:
    """Strings stay as they are; lists and objects become JSON strings (the documented way to fill complex
    template variables)."""
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        for k, v in doc.items()
    }


def button_params(content: Any) -> dict[str, str] | None:
    """The clicked button's params out of a card callback's `content` (`cardPrivateData.params`), or None when
    they are not ones our template sends."""
    if not isinstance(content, dict):
        return None
    private = content.get("cardPrivateData")
    params = private.get("params") if isinstance(private, dict) else None
    if not isinstance(params, dict) or not isinstance(params.get("p"), str):
        return None
    return {str(k): str(v) for k, v in params.items() if isinstance(v, str | int | bool)}
