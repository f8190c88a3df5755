"""The jinja2 environment the platform renderers share: card JSON templates live in `cards/<platform>/`.

Templates emit JSON; every value goes through `tojson`, so user text can never break the document's structure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from bot.core.actions import Action, InvalidPayload
from bot.core.i18n import Lang, tr
from bot.render.escape import Dialect, code_block, light
from bot.render.extras import extra_elements
from bot.render.model import (
    TRUNCATED_EN,
    TRUNCATED_ZH,
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
from bot.settings import data_dir


def _tojson(value: Any) -> str:
    # Plain JSON (not jinja2's HTML-safe variant): the output is a JSON document, never HTML, and the
    # \u003c escapes of the HTML-safe form would eat into the platforms' card size limits.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=4)
def environment(root: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root or data_dir("cards"))),
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly in tests, not silently in chat
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["tojson"] = _tojson
    env.filters["prefix"] = lambda text, head: f"{head}{text}"
    return env


def render_json(template: str, **context: Any) -> dict[str, Any]:
    """Render `cards/<template>` and parse it: a template that yields invalid JSON raises here."""
    text = environment().get_template(template).render(**context)
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError(f"template {template} did not produce a JSON object")
    return doc


def json_size(doc: Any) -> int:
    """Bytes of the compact UTF-8 JSON form: what the platforms count against their card limits."""
    return len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())


# --- view preparation shared by the platform renderers -------------------------------------------------------

Signer = Callable[[Action], str]

TONE_ICON = {Tone.INFO: "ℹ️", Tone.SUCCESS: "✅", Tone.WARNING: "⚠️", Tone.DANGER: "⛔"}


@dataclass(frozen=True, slots=True)
class Limits:
    text: int  # characters per text block
    rows: int  # table rows
    cell: int  # characters per table cell
    blocks: int  # blocks per card


# Tried in order until the rendered card fits the platform's byte limit: generous first, then tighter.
LIMIT_STEPS = (
    Limits(12000, 50, 200, 40),
    Limits(6000, 30, 120, 30),
    Limits(3000, 20, 80, 20),
    Limits(1500, 10, 60, 12),
    Limits(600, 5, 40, 8),
    Limits(200, 3, 30, 4),
)


def card_lang(card: Card, lang: Lang | str | None) -> Lang:
    """The card's own `meta["lang"]` wins (the handler knows best), then the event's language, then Chinese."""
    raw = card.meta.get("lang") or (str(lang) if lang else "")
    return Lang.EN if raw == Lang.EN.value else Lang.ZH


def marker(lang: Lang) -> str:
    return tr(lang, TRUNCATED_ZH, TRUNCATED_EN)


def prepare_card(
    card: Card, *, sign: Signer, lang: Lang, limits: Limits, dialect: Dialect, markdown_cells: bool = False
) -> dict[str, Any]:
    """Card -> data for a template, every text bounded by `limits` with a visible marker, then escaped for the
    platform (`dialect`): texts bound for markdown come out ready to paste, code blocks fenced. `title`, button
    labels and (unless `markdown_cells`) table cells stay raw: the templates put them in plain-text fields.
    Bounding happens before escaping so a marker is never cut and an entity never split."""
    mark = marker(lang)
    esc = dialect.text

    def md(text: str) -> str:  # our template subset (bold, code, items); everything else escaped
        return light(text, dialect)

    cell_out = esc if markdown_cells else (lambda text: text)
    elements: list[dict[str, Any]] = []
    blocks = card.blocks
    for block in blocks[: limits.blocks]:
        if isinstance(block, Markdown):
            elements.append({"kind": "markdown", "text": md(bound_text(block.text, limits.text, mark)[0])})
        elif isinstance(block, Fields):
            items = [
                [bound_text(k, limits.cell, mark)[0], bound_text(v, limits.cell * 2, mark)[0]] for k, v in block.items
            ]
            lines = [f"{dialect.bold(k)}: {esc(v)}" for k, v in items[: limits.rows]]
            elements.append({"kind": "fields", "items": items[: limits.rows], "text": "\n".join(lines)})
            if len(items) > limits.rows:
                elements.append(_note(esc(mark), Tone.INFO))
        elif isinstance(block, Table):
            rows = [[cell_out(bound_text(c, limits.cell, "…")[0]) for c in row] for row in block.rows[: limits.rows]]
            notes = [n for n in (block.truncated, mark if len(block.rows) > limits.rows else None) if n]
            elements.append(
                {
                    "kind": "table",
                    "columns": [cell_out(bound_text(c, limits.cell, "…")[0]) for c in block.columns],
                    "rows": rows,
                    "note": esc(" · ".join(notes)) if notes else None,
                }
            )
        elif isinstance(block, Code):
            text, cut = bound_tail(block.text, limits.text, mark)
            notes = [n for n in (block.truncated,) if n]
            elements.append(
                {
                    "kind": "code",
                    "text": code_block(text),
                    "note": esc(" · ".join(notes)) if notes else None,
                    "cut": cut,
                }
            )
        elif isinstance(block, Note):
            elements.append(_note(md(bound_text(block.text, limits.text, mark)[0]), block.tone))
        elif isinstance(block, Mention | Chart):
            elements.extend(extra_elements(block, lang=lang, dialect=dialect, md=md))
    if len(blocks) > limits.blocks:
        elements.append(_note(esc(mark), Tone.WARNING))
    if card.input_hint:
        elements.append(_note(esc(bound_text(card.input_hint, limits.cell * 2, mark)[0]), Tone.INFO))
    buttons = []
    for button in card.buttons:
        try:
            value = sign(button.action)
        except InvalidPayload:  # an action too big to carry: leave the button out rather than send a broken one
            continue
        buttons.append({"label": bound_text(button.label, 40, "…")[0], "style": button.style.value, "value": value})
    return {
        "title": bound_text(card.title, 100, "…")[0],
        "tone": card.tone.value,
        "icon": TONE_ICON[card.tone],
        "elements": elements,
        "buttons": buttons,
        "footer": md(bound_text(card.footer, limits.text, mark)[0]) if card.footer else None,
        "lang": lang.value,  # buttons carry it: a notice about a click answers in the clicked card's language
    }


def _note(text: str, tone: Tone) -> dict[str, Any]:
    return {"kind": "note", "text": text, "tone": tone.value, "icon": TONE_ICON[tone]}


def fit(
    build: Callable[[Limits], dict[str, Any]],
    max_bytes: int,
    measure: Callable[[dict[str, Any]], int] = json_size,
) -> dict[str, Any]:
    """Render with ever tighter limits until the card measures under `max_bytes` (`measure`: how the platform
    counts it); the last step always fits in practice (a few short blocks), and is returned even if not, so a
    reply is never lost."""
    doc: dict[str, Any] = {}
    for limits in LIMIT_STEPS:
        doc = build(limits)
        if measure(doc) <= max_bytes:
            return doc
    return doc
