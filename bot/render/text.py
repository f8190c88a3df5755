"""Cards as plain-text boxes for the console: blocks, then numbered buttons (`[1] 查看日志  [2] 描述 Pod`).

Pure. Width is measured in terminal cells (CJK = 2) so tables line up. Terminal control sequences in any text
are shown as visible escapes (`bot.render.escape.console_text`), never sent to the terminal.
"""

from __future__ import annotations

import unicodedata

from bot.core.i18n import Lang
from bot.render.charts import sparkline_lines
from bot.render.escape import console_text
from bot.render.mentions import visible_names
from bot.render.model import Card, Chart, Code, Fields, Markdown, Mention, Note, Table, Tone

_TONE_MARK = {Tone.INFO: "ℹ", Tone.SUCCESS: "✔", Tone.WARNING: "⚠", Tone.DANGER: "✖"}
MAX_COL = 48
MAX_LAST_COL = 160  # the last column (an event's message) runs on: nothing after it to misalign


def width(text: str) -> int:
    if text.isascii():  # names, ages, statuses: most cells; one C call instead of a lookup per character
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, cells: int) -> str:
    return text + " " * max(0, cells - width(text))


def clip(text: str, cells: int) -> str:
    if width(text) <= cells:
        return text
    out = ""
    for ch in text:
        if width(out + ch) > cells - 1:
            break
        out += ch
    return out + "…"


def _md(text: str) -> str:
    return text.replace("**", "")


def _cell(text: str, cells: int = MAX_COL) -> str:
    # a cell is one line, and control characters become visible before widths are measured
    return clip(console_text(" ".join(text.splitlines())), cells)


def render_table(t: Table) -> list[str]:
    rows = [tuple(_cell(c, MAX_LAST_COL if i == len(r) - 1 else MAX_COL) for i, c in enumerate(r)) for r in t.rows]
    cols = [_cell(c) for c in t.columns]
    widths = [width(c) for c in cols]
    for r in rows:
        for i, c in enumerate(r[: len(widths)]):
            widths[i] = max(widths[i], width(c))
    lines = ["  ".join(pad(c, widths[i]) for i, c in enumerate(cols)).rstrip()]
    for r in rows:
        lines.append("  ".join(pad(c, widths[i]) for i, c in enumerate(r[: len(widths)])).rstrip())
    if t.truncated:
        lines.append(f"… {t.truncated}")
    return lines


def extra_lines(block: Mention | Chart, lang: Lang) -> list[str]:
    """A mention as `@name` text (the console notifies nobody); a chart as its sparklines."""
    if isinstance(block, Mention):
        return [" ".join(p for p in (visible_names(block, lang), _md(block.text)) if p)]
    if not block.text_fallback:
        return []  # the card has these series as text already
    return ([block.title] if block.title else []) + ["  " + line for line in sparkline_lines(block, lang)]


def button_line(labels: list[str]) -> str:
    return "  ".join(f"[{i}] {label}" for i, label in enumerate(labels, 1))


def render_card(card: Card) -> str:
    """The card as a box; buttons numbered from 1 in order."""
    body: list[str] = []
    for block in card.blocks:
        if isinstance(block, Markdown):
            body.extend(_md(block.text).splitlines() or [""])
        elif isinstance(block, Fields):
            kw = max((width(k) for k, _ in block.items), default=0)
            body.extend(f"{pad(k, kw)} : {v}" for k, v in block.items)
        elif isinstance(block, Table):
            body.extend(render_table(block))
        elif isinstance(block, Code):
            body.extend("  " + line for line in block.text.splitlines())
            if block.truncated:
                body.append(f"… {block.truncated}")
        elif isinstance(block, Note):
            body.append(f"{_TONE_MARK.get(block.tone, '•')} {_md(block.text)}")
        elif isinstance(block, Mention | Chart):
            body.extend(extra_lines(block, Lang.EN if card.meta.get("lang") == "en" else Lang.ZH))
    out = [f"┌─ {_TONE_MARK.get(card.tone, '')} {card.title}"]
    out.extend(f"│ {line}".rstrip() for line in body)
    if card.footer:
        out.append(f"│ {card.footer}")
    if card.buttons:
        out.append("│ " + button_line([b.label for b in card.buttons]))
    if card.input_hint:
        out.append(f"│ ✎ {card.input_hint}")
    out.append("└─")
    # Everything not ours (names, logs, events, the LLM's answer) may carry terminal control sequences.
    return console_text("\n".join(out))
