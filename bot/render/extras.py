"""Template elements for the `Mention` and `Chart` blocks (pure), shared by the Feishu and DingTalk renderers.

Both become element kinds the templates already know (markdown, code) except an uploaded chart on Feishu, which
is an `img` element. Everything from outside is escaped (`md`/`dialect`); the only markup made here is built from
ids that passed the platform's pattern (`bot.render.mentions`, `IMAGE_KEY`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.core.i18n import Lang, tr
from bot.render.charts import caption_lines, sparkline_lines
from bot.render.escape import FEISHU, Dialect, code_block
from bot.render.mentions import feishu_at_markup, visible_names
from bot.render.model import Chart, Mention

# what an upload returns: a Feishu image key, a DingTalk media id
IMAGE_KEY = {"feishu": re.compile(r"^img_[0-9A-Za-z_-]{1,128}$"), "dingtalk": re.compile(r"^@[0-9A-Za-z_-]{1,256}$")}


def extra_elements(
    block: Mention | Chart, *, lang: Lang, dialect: Dialect, md: Callable[[str], str]
) -> list[dict[str, Any]]:
    platform = "feishu" if dialect is FEISHU else "dingtalk"
    if isinstance(block, Mention):
        if platform == "feishu":
            head = feishu_at_markup(block)
        else:
            head = dialect.text(visible_names(block, lang, platform))
        text = f"**{md(block.text)}**" if block.text else ""
        joined = f"{head} {text}".strip()
        return [{"kind": "markdown", "text": joined}] if joined else []
    title = dialect.bold(block.title) if block.title else ""
    key = block.image if block.image and IMAGE_KEY[platform].match(block.image) else None
    if key is None:  # no image: the sparklines, as in the console
        if not block.text_fallback:
            return []
        out: list[dict[str, Any]] = [{"kind": "markdown", "text": title}] if title else []
        lines = "\n".join(sparkline_lines(block, lang))
        return [*out, {"kind": "code", "text": code_block(lines), "note": None, "cut": False}]
    caption = "\n".join(dialect.text(line) for line in caption_lines(block, lang))
    if platform == "feishu":
        return [
            *([{"kind": "markdown", "text": title}] if title else []),
            {"kind": "image", "key": key, "alt": block.title or tr(lang, "指标图", "chart")},
            {"kind": "markdown", "text": caption},
        ]
    # DingTalk card markdown shows an uploaded image by its media id
    return [{"kind": "markdown", "text": "\n\n".join(p for p in (title, f"![chart]({key})", caption) if p)}]
