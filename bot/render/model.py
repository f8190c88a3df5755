"""Card view models. They live in `bot.core.cards` (the `Responder` port needs them); this is the public name."""

from bot.core.cards import (
    TRUNCATED_EN,
    TRUNCATED_ZH,
    Block,
    Button,
    ButtonStyle,
    Card,
    Chart,
    Code,
    Fields,
    Markdown,
    Mention,
    Note,
    Table,
    Tone,
    bound_tail,
    bound_text,
)

__all__ = [
    "TRUNCATED_EN",
    "TRUNCATED_ZH",
    "Block",
    "Button",
    "ButtonStyle",
    "Card",
    "Chart",
    "Code",
    "Fields",
    "Markdown",
    "Mention",
    "Note",
    "Table",
    "Tone",
    "bound_tail",
    "bound_text",
]
