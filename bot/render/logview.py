"""The logs view: a window of a log's lines, saying which lines of how many they are. Pure.

The window is chosen by the caller (`bot.conversation.logpages` sizes it to the platform's card on the wire with
`bot.render.paging`); `logs_blocks` is the view without a platform (an LLM's answer card), bounded by characters.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.i18n import Lang, tr
from bot.render.model import Block, Code, Markdown, Note
from bot.render.templates import LIMIT_STEPS
from tools.k8s import models as m

MAX_LOG_CHARS = 6000  # logs without a platform window (bot.render.paging sizes the others)
CODE_CHUNK_CHARS = LIMIT_STEPS[0].text - 100  # one code block the renderer sends uncut


def code_chunks(lines: Sequence[str], limit: int = CODE_CHUNK_CHARS) -> list[str]:
    """Lines as consecutive code blocks of at most `limit` characters each (a window bigger than one block the
    renderer takes uncut still goes out whole: the card's byte budget, not a block's, is what bounds it)."""
    chunks: list[str] = []
    part: list[str] = []
    size = 0
    for line in lines:
        if part and size + len(line) + 1 > limit:
            chunks.append("\n".join(part))
            part, size = [], 0
        part.append(line)
        size += len(line) + 1
    chunks.append("\n".join(part))
    return chunks


def log_page(
    r: m.LogResult, lang: Lang, start: int, end: int, *, asked: int | None = None, paged: bool = True
) -> list[Block]:
    """Lines [start, end) of a log result, saying which lines of how many they are: the window is chosen by the
    caller to fit the platform's card (bot.render.paging), so nothing in it is cut here."""
    what = tr(lang, "（上一个实例）", " (previous instance)") if r.previous else ""
    n = len(r.lines)
    start, end = max(0, min(start, n)), max(0, min(end, n))
    where = dict(ns=r.namespace, pod=r.pod, c=r.container, w=what, n=n, a=start + 1, b=end, k=end - start)
    if start == 0 and end == n:
        head = tr(
            lang,
            "`{ns}/{pod}` 容器 `{c}`{w}，最后 {n} 行：",
            "`{ns}/{pod}` container `{c}`{w}, last {n} lines:",
            **where,
        )
    elif end == n:
        head = tr(
            lang,
            "`{ns}/{pod}` 容器 `{c}`{w}：最新的 {k} 行（第 {a}-{b} 行，共取回 {n} 行）：",
            "`{ns}/{pod}` container `{c}`{w}: the newest {k} lines (lines {a}-{b} of {n} fetched):",
            **where,
        )
    else:
        head = tr(
            lang,
            "`{ns}/{pod}` 容器 `{c}`{w}：第 {a}-{b} 行（共取回 {n} 行）：",
            "`{ns}/{pod}` container `{c}`{w}: lines {a}-{b} of {n} fetched:",
            **where,
        )
    blocks: list[Block] = [Markdown(head)]
    if not r.lines:
        return [blocks[0], Markdown(tr(lang, "（没有日志输出）", "(no log output)"))]
    cut = (
        None
        if paged or end - start == n
        else tr(lang, "只显示最新的部分（已截断）", "only the newest part is shown (truncated)")
    )
    chunks = code_chunks(r.lines[start:end])
    blocks.extend(Code(text) for text in chunks[:-1])
    blocks.append(Code(chunks[-1], truncated=cut))
    notes: list[str] = []
    if end - start < n and paged:
        notes.append(
            tr(
                lang,
                "一张卡片放不下全部 {n} 行，这里显示 {k} 行；用「更早」「更新」翻页。",
                "All {n} lines do not fit on one card; {k} are shown here. Use Older / Newer to page.",
                **where,
            )
        )
    if asked is not None and n < asked and not r.truncated:
        notes.append(
            tr(lang, "要了 {m} 行，日志只有 {n} 行。", "Asked for {m} lines; the log has only {n}.", m=asked, n=n)
        )
    elif r.truncated and start == 0:
        notes.append(tr(lang, "更早的日志没有取回（已截断）。", "Older lines exist and were not fetched (truncated)."))
    blocks.extend(Note(t) for t in notes)
    return blocks


def logs_blocks(r: m.LogResult, lang: Lang) -> list[Block]:
    """Without a platform to measure against (an LLM's answer card): the newest lines within a character
    budget, with an honest count of what is shown."""
    used, start = 0, len(r.lines)
    while start > 0 and used + len(r.lines[start - 1]) + 1 <= MAX_LOG_CHARS:
        start -= 1
        used += len(r.lines[start]) + 1
    if start == len(r.lines) and r.lines:
        start -= 1  # one line longer than the budget: shown, and cut by the renderer with its marker
    return log_page(r, lang, start, len(r.lines), paged=False)
