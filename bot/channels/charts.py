"""Chart images for the IM channels: a card's `Chart` blocks drawn as PNG (off the event loop), uploaded once per
picture, and the block given the platform's image key. Any failure leaves the block as it was, which every
renderer shows as text sparklines: the user gets the card either way and never sees an upload error."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.render.model import Card, Chart
from bot.render.png import render_chart

log = logging.getLogger(__name__)

MAX_CHARTS_PER_CARD = 2  # more would crowd a chat card; the rest stay sparklines
CACHE_SIZE = 128  # the same picture (an unchanged card updated again) is not uploaded twice
UPLOAD_TIMEOUT = 15.0

Upload = Callable[[bytes], Awaitable[str]]


class ChartImages:
    def __init__(self, upload: Upload, *, platform: str) -> None:
        self._upload = upload
        self._platform = platform
        self._keys: OrderedDict[str, str] = OrderedDict()
        self.uploads = 0  # how many images were uploaded (tests and benchmarks read it)
        self.failures = 0

    async def attach(self, card: Card) -> Card:
        """`card` with its first charts carrying an uploaded image; unchanged when there is none or on failure."""
        if not any(isinstance(b, Chart) and b.image is None for b in card.blocks):
            return card
        blocks = list(card.blocks)
        done = 0
        for i, block in enumerate(blocks):
            if not isinstance(block, Chart) or block.image is not None or done >= MAX_CHARTS_PER_CARD:
                continue
            done += 1
            key = await self._image_for(block)
            if key is not None:
                blocks[i] = replace(block, image=key)
        return replace(card, blocks=tuple(blocks))

    async def _image_for(self, chart: Chart) -> str | None:
        try:
            png = await asyncio.to_thread(render_chart, chart.series)
        except Exception:
            log.warning("%s: could not draw chart %r", self._platform, chart.title, exc_info=True)
            self.failures += 1
            return None
        digest = hashlib.sha256(png).hexdigest()
        key = self._keys.get(digest)
        if key is not None:
            self._keys.move_to_end(digest)
            return key
        try:
            key = await asyncio.wait_for(self._upload(png), UPLOAD_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - the platform refused or is slow: sparklines instead, no error shown
            log.warning("%s: chart upload failed, showing sparklines: %s", self._platform, exc)
            self.failures += 1
            return None
        self.uploads += 1
        self._keys[digest] = key
        while len(self._keys) > CACHE_SIZE:
            self._keys.popitem(last=False)
        return key
