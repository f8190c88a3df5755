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
from typing import Any

from bot.core.i18n import Lang
from bot.render.escape import DINGTALK
from bot.render.model import Card
from bot.render.templates import Signer, card_lang, fit, prepare_card, render_json

# DingTalk documents no exact byte limit for card data; large cards fail to send. Keep the same margin as Feishu.
MAX_CARD_BYTES = 24_000

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
    )


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
