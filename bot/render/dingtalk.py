"""Card view model -> DingTalk robot interactive card data (template `cards/dingtalk/card.json.j2`). Pure."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import Lang
from bot.render.model import Card
from bot.render.templates import Signer, card_lang, fit, prepare_card, render_json

# DingTalk documents no exact byte limit for cardData; large cards fail to send. Keep the same margin as Feishu.
MAX_CARD_BYTES = 24_000

BUTTON_STATUS = {"default": "normal", "primary": "primary", "danger": "warning"}


def render_dingtalk(
    card: Card,
    *,
    sign: Signer,
    conversation_id: str,
    is_group: bool,
    lang: Lang | str | None = None,
    max_bytes: int = MAX_CARD_BYTES,
) -> dict[str, Any]:
    """Buttons carry the signed payload plus the conversation they were sent to: DingTalk's card callback
    does not name the chat, and the payload is bound to it by its signature, so a changed `cid` is refused."""
    use_lang = card_lang(card, lang)
    return fit(
        lambda limits: render_json(
            "dingtalk/card.json.j2",
            button_status=BUTTON_STATUS,
            conversation_id=conversation_id,
            is_group="1" if is_group else "0",
            **prepare_card(card, sign=sign, lang=use_lang, limits=limits),
        ),
        max_bytes,
    )


def button_params(content: Any) -> dict[str, str] | None:
    """The button's params out of a card callback's `content` (`cardPrivateData.params`)."""
    if not isinstance(content, dict):
        return None
    private = content.get("cardPrivateData")
    params = private.get("params") if isinstance(private, dict) else None
    if not isinstance(params, dict) or not isinstance(params.get("p"), str):
        return None
    return {str(k): str(v) for k, v in params.items() if isinstance(v, str | int | bool)}
