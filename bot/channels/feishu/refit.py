"""A card Feishu refuses for its size is sent again at half the refused size, once, instead of being lost.

`render_feishu` measures the request body exactly as the SDK sends it, so a refusal means the platform counts
differently from our reading of its "30 KB" (bytes vs KiB, or fields we do not see). Half of what was refused
fits any plausible reading; the renderer keeps the newest lines and its visible "truncated" marker, so the user
gets a shorter card that says it is shorter rather than "something went wrong"."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Feishu: "message content too long" (send and PATCH alike, as our gateway emulator reports it); the CardKit
# APIs answer 200860 for the same reason but are sized by the stream's own text cap.
SIZE_CODES = ("230025",)


def refused_for_size(exc: BaseException) -> bool:
    text = str(exc)
    return any(f"code {code}" in text for code in SIZE_CODES)


def body_bytes(content: str) -> int:
    """Bytes of the card's `content` string inside a request body, escaped as the SDK sends it."""
    return len(json.dumps(content, ensure_ascii=False).encode())


async def send_refitted(send: Callable[[str], Awaitable[T]], content: str, render: Callable[[int], str]) -> T:
    """`send(content)`; if Feishu refuses it for its size, `send(render(half the refused size))`, once."""
    try:
        return await send(content)
    except Exception as exc:
        if not refused_for_size(exc):
            raise
        budget = body_bytes(content) // 2
        log.warning("feishu refused a card of %d bytes for its size; sending it again within %d", 2 * budget, budget)
        return await send(render(budget))


__all__ = ["body_bytes", "refused_for_size", "send_refitted"]
