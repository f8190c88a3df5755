"""Card view model -> Feishu / Lark card JSON 2.0 (template `cards/feishu/card.json.j2`). Pure."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import Lang
from bot.render.model import Card
from bot.render.templates import Signer, card_lang, fit, prepare_card, render_json

# Feishu refuses card JSON above ~30 KB; stay well under it so the platform's own wrapping still fits.
MAX_CARD_BYTES = 28_000

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
            **prepare_card(card, sign=sign, lang=use_lang, limits=limits),
        ),
        max_bytes,
    )


def button_payload(value: Any) -> str | None:
    """The signed payload out of a `card.action.trigger` action value (what `render_feishu` put there)."""
    if isinstance(value, dict) and isinstance(value.get("p"), str):
        return str(value["p"])
    return None
