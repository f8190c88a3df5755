"""Card view model -> Feishu / Lark card JSON 2.0 (template `cards/feishu/card.json.j2`). Pure."""

from __future__ import annotations

import json
from typing import Any

from bot.core.i18n import Lang
from bot.render.escape import FEISHU
from bot.render.model import Card
from bot.render.templates import Signer, card_lang, fit, prepare_card, render_json

# Feishu's send-message docs: "卡片及富文本消息请求体最大不能超过 30 KB" - the limit is on the REQUEST BODY,
# where the card travels as an escaped JSON string (every `"` costs two bytes). Read as 30,000 bytes, the
# stricter reading; BODY_OVERHEAD leaves room for the fields around the content (receive_id, msg_type, uuid).
MAX_BODY_BYTES = 30_000
BODY_OVERHEAD = 200
MAX_CARD_BYTES = MAX_BODY_BYTES - BODY_OVERHEAD


def card_content(doc: dict[str, Any]) -> str:
    """The `content` field of a card message, exactly as the adapter sends it."""
    return json.dumps(doc, ensure_ascii=False)


def wire_size(doc: dict[str, Any]) -> int:
    """Bytes of `{"content": "<card as an escaped string>"}` as the SDK serialises a body (UTF-8, not ASCII)."""
    return len(json.dumps({"content": card_content(doc)}, ensure_ascii=False).encode())


HEADER_COLORS = {"info": "blue", "success": "green", "warning": "orange", "danger": "red"}
BUTTON_TYPES = {"default": "default", "primary": "primary", "danger": "danger"}


def render_feishu(
    card: Card, *, sign: Signer, lang: Lang | str | None = None, max_bytes: int = MAX_CARD_BYTES
) -> dict[str, Any]:
    """`sign` turns a button's action into its signed payload (`codec.encode(action, chat_key)`)."""
    use_lang = card_lang(card, lang)
    return fit(
        lambda limits: render_json(
            "feishu/card.json.j2",
            colors=HEADER_COLORS,
            button_types=BUTTON_TYPES,
            **prepare_card(card, sign=sign, lang=use_lang, limits=limits, dialect=FEISHU),
        ),
        max_bytes,
        wire_size,
    )


def button_payload(value: Any) -> str | None:
    """The signed payload out of a `card.action.trigger` action value (what `render_feishu` put there)."""
    if isinstance(value, dict) and isinstance(value.get("p"), str):
        return str(value["p"])
    return None


def button_lang(value: Any) -> Lang | None:
    """The language of the card a button sits on (unsigned: it only picks the language of a notice)."""
    raw = value.get("l") if isinstance(value, dict) else None
    return Lang(raw) if raw in {lang.value for lang in Lang} else None
