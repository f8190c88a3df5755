"""Windows and pages sized to the platform: how many log lines or list rows one card carries, measured on the wire.

Pure. A window is chosen by rendering the real card for a candidate size with the platform's own renderer and
measuring it the way the platform counts it (Feishu: the escaped request body; DingTalk: the `cardParamMap`
data), within the renderer's first, most generous limits, so nothing in the window is cut by the renderer.
The console has no budget: it shows every line asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.i18n import Lang
from bot.render import dingtalk as dt
from bot.render import feishu as fs
from bot.render.model import Card, Code, Table
from bot.render.templates import LIMIT_STEPS, Signer

CONSOLE = "console"
FEISHU = "feishu"
DINGTALK = "dingtalk"

# The renderer's first step: a block longer than this, or a table with more rows, would be cut by `fit`.
MAX_BLOCK_CHARS = LIMIT_STEPS[0].text
MAX_TABLE_ROWS = LIMIT_STEPS[0].rows
# Room kept below each platform's limit for what a window's neighbours add later (a note, a longer page label).
MARGIN_BYTES = 600


@dataclass(frozen=True, slots=True)
class Budget:
    """Where a card goes: enough to render and measure it as the platform will receive it."""

    platform: str
    sign: Signer
    lang: Lang
    conversation_id: str = ""
    is_group: bool = False

    @property
    def unlimited(self) -> bool:
        return self.platform not in (FEISHU, DINGTALK)


def wire_bytes(card: Card, budget: Budget) -> int:
    """The card's size as the platform counts it, rendered with the first (uncut) limits."""
    huge = 1 << 30  # `fit` returns its first step when anything fits
    if budget.platform == FEISHU:
        return fs.wire_size(fs.render_feishu(card, sign=budget.sign, lang=budget.lang, max_bytes=huge))
    if budget.platform == DINGTALK:
        params = dt.render_dingtalk(
            card,
            sign=budget.sign,
            conversation_id=budget.conversation_id,
            is_group=budget.is_group,
            lang=budget.lang,
            max_bytes=huge,
        )
        return dt.wire_size(params)
    return 0


def limit_bytes(budget: Budget) -> int:
    if budget.platform == FEISHU:
        return fs.MAX_CARD_BYTES - MARGIN_BYTES
    if budget.platform == DINGTALK:
        return dt.MAX_CARD_BYTES - MARGIN_BYTES
    return 1 << 30


def fits(card: Card, budget: Budget) -> bool:
    """Whether the card goes out whole: within the platform's limit and no block beyond the renderer's first
    limits (which would be cut with a marker)."""
    if budget.unlimited:
        return True
    for block in card.blocks:
        if isinstance(block, Code) and len(block.text) > MAX_BLOCK_CHARS:
            return False
        if isinstance(block, Table) and len(block.rows) > MAX_TABLE_ROWS:
            return False
    return wire_bytes(card, budget) <= limit_bytes(budget)


def largest(n: int, ok: Callable[[int], bool]) -> int:
    """The largest k in 1..n with ok(k) (ok is monotonic: fewer always fits if more does); 1 when none does, so a
    page always moves on (the renderer then cuts that one item with its visible marker). 0 when n is 0."""
    if n <= 0:
        return 0
    if ok(n):
        return n
    lo, hi = 1, n  # invariant: the answer is in [lo, hi); ok(hi) is False
    if not ok(lo):
        return 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def window_back(end: int, ok: Callable[[int, int], bool]) -> tuple[int, int]:
    """The biggest window of items [start, end) that fits, ending at `end` (the newest lines first)."""
    k = largest(end, lambda n: ok(end - n, end))
    return end - k, end


def window_forward(start: int, total: int, ok: Callable[[int, int], bool]) -> tuple[int, int]:
    """The biggest window [start, end) that fits, starting at `start` (paging towards newer lines)."""
    k = largest(total - start, lambda n: ok(start, start + n))
    return start, start + k
