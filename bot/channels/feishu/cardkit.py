"""Feishu streaming cards through CardKit card entities (lark-oapi `cardkit.v1`).

The flow (open.feishu.cn "Streaming updates" overview, cardkit-v1 card/create, card-element/content,
card/settings, card/update):
1. `POST /open-apis/cardkit/v1/cards` {type: card_json, data: card JSON 2.0 with `config.streaming_mode: true`}
   -> card_id; the message is sent with content {"type": "card", "data": {"card_id": ...}}.
2. `PUT .../cards/:card_id/elements/:element_id/content` {content: the FULL text, sequence}: the client types
   out the difference.
3. `PATCH .../cards/:card_id/settings` {settings: '{"config":{"streaming_mode":false}}', sequence}: without it
   the chat preview stays "[生成中...]" (and streaming mode ends by itself only after 10 minutes).
4. `PUT .../cards/:card_id` {card: {type: card_json, data: the final card}, sequence}: buttons are added only
   now, after streaming closed.
Limits respected: `sequence` strictly rising per card (300317 otherwise; int32, so per card from 1), 10
updates/s per card (we send at most one per `FEISHU_STREAM_INTERVAL` after the previous completed), 50/s and
1,000/min per app for each of these APIs (a shared `RateWindow`), 30 KB per request body (the final card is
sized by `render_feishu`; the streamed text is a bounded tail).
Later updates of a card entity (a click on its buttons) go through CardKit too: `CardEntities` remembers each
message's card_id and last sequence in this process.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.channels.streaming import NativeStream, RateWindow
from bot.core.cards import Card, Markdown, Tone
from bot.core.i18n import Lang, tr
from bot.core.responder import stream_tail
from bot.render.escape import FEISHU, light
from bot.render.feishu import HEADER_COLORS

log = logging.getLogger(__name__)

STREAM_ELEMENT = "answer"
STREAM_INTERVAL = 0.25  # s between text updates of one card: <= 4/s, the platform allows 10/s
STREAM_TEXT_CHARS = 4_000  # escaping can grow text ~5x; the body stays under 30 KB
APP_PER_SECOND = 40  # of 50/s per app: headroom for other CardKit calls of this process
APP_PER_MINUTE = 900  # of 1,000/min per app
ENTITY_CACHE = 5_000
UNUSABLE_SECONDS = 600.0  # after a failed card creation, PATCHed cards for this long, then CardKit again
ENTITY_TTL = 14 * 24 * 3600  # a card entity can be updated for 14 days after it was created
LATER_BASE = 100_000  # sequences of updates after the stream: above any stream's own (<= 10/s for 10 min)


class CardKitError(Exception):
    pass


Call = Callable[[Any, Any], Awaitable[Any]]  # the adapter's `_call(method, request)`


class _Keys(Protocol):
    def cache(self, kind: str, scope: str) -> str: ...


class EntityStore(Protocol):
    """The part of `bot.store.Store` used here (cache keys: best effort, a failed read is a miss)."""

    @property
    def keys(self) -> _Keys: ...

    async def get_json(self, key: str) -> Any | None: ...

    async def set_json(self, key: str, value: Any, ttl: int) -> None: ...


class CardEntities:
    """message_id -> card_id of cards sent by card_id, so a later update (a click on the final card's buttons,
    in this replica or another, before or after a restart) goes through CardKit: in process (LRU) and in
    Redis for the card entity's 14-day life. Sequences of such later updates come from the clock (tenths of
    a second since the card was created, above every sequence its stream used), so replicas that share no
    counter still send rising sequences; in this process they also rise past the last one sent."""

    def __init__(self, store: EntityStore | None = None) -> None:
        self._store = store
        self._local: OrderedDict[str, tuple[str, float, int]] = OrderedDict()  # card_id, created, last seq

    async def remember(self, message_id: str, card_id: str, created: float, sequence: int) -> None:
        self._put(message_id, card_id, created, sequence)
        if self._store is not None:
            try:
                doc = {"card_id": card_id, "created": created}
                await self._store.set_json(self._store.keys.cache("cardkit", message_id), doc, ttl=ENTITY_TTL)
            except Exception:  # best effort: without it a later update falls back to PATCH
                log.warning("cardkit: could not remember card %s", card_id, exc_info=True)

    def _put(self, message_id: str, card_id: str, created: float, sequence: int) -> None:
        self._local[message_id] = (card_id, created, sequence)
        self._local.move_to_end(message_id)
        while len(self._local) > ENTITY_CACHE:
            self._local.popitem(last=False)

    async def next_update(self, message_id: str) -> tuple[str, int] | None:
        """(card_id, sequence) for one more update of the card behind `message_id`, or None if not ours."""
        entry = self._local.get(message_id)
        if entry is None and self._store is not None:
            try:
                doc = await self._store.get_json(self._store.keys.cache("cardkit", message_id))
            except Exception:  # a miss: the caller PATCHes instead
                log.warning("cardkit: could not look up message %s", message_id, exc_info=True)
                doc = None
            if isinstance(doc, dict) and doc.get("card_id"):
                entry = (str(doc["card_id"]), float(doc.get("created") or 0.0), 0)
        if entry is None:
            return None
        card_id, created, last = entry
        sequence = min(2**31 - 1, max(last + 1, LATER_BASE + int((time.time() - created) * 10)))
        self._put(message_id, card_id, created, sequence)
        return card_id, sequence


class CardKit:
    """The four CardKit calls, over the adapter's lark client (sync SDK calls in worker threads)."""

    def __init__(self, api: Any, call: Call, store: EntityStore | None = None) -> None:
        self._api = api
        self._call = call
        self.window = RateWindow(per_second=APP_PER_SECOND, per_minute=APP_PER_MINUTE)
        self.entities = CardEntities(store)
        self._down_until = 0.0

    @property
    def usable(self) -> bool:
        """False for a while after creating a card entity failed (e.g. the app lacks `cardkit:card:write`):
        streams then fall back to a PATCHed card instead of failing to open every time."""
        return time.monotonic() >= self._down_until

    async def _ok(self, method: Any, req: Any, what: str) -> Any:
        resp = await self._call(method, req)
        if not resp.success():
            raise CardKitError(f"{what}: code {resp.code}: {resp.msg}")
        return resp

    async def create(self, doc: dict[str, Any]) -> str:
        from lark_oapi.api.cardkit.v1 import CreateCardRequest, CreateCardRequestBody

        body = CreateCardRequestBody.builder().type("card_json").data(json.dumps(doc, ensure_ascii=False)).build()
        try:
            resp = await self._ok(
                self._api.cardkit.v1.card.create, CreateCardRequest.builder().request_body(body).build(), "create card"
            )
        except Exception:
            self._down_until = time.monotonic() + UNUSABLE_SECONDS
            raise
        if resp.data is None or not resp.data.card_id:
            raise CardKitError("create card: no card_id in the answer")
        return str(resp.data.card_id)

    async def content(self, card_id: str, text: str, sequence: int) -> None:
        from lark_oapi.api.cardkit.v1 import ContentCardElementRequest, ContentCardElementRequestBody

        body = ContentCardElementRequestBody.builder().uuid(uuid.uuid4().hex).content(text).sequence(sequence).build()
        req = ContentCardElementRequest.builder().card_id(card_id).element_id(STREAM_ELEMENT).request_body(body).build()
        await self._ok(self._api.cardkit.v1.card_element.content, req, "stream text")

    async def end_streaming(self, card_id: str, sequence: int) -> None:
        from lark_oapi.api.cardkit.v1 import SettingsCardRequest, SettingsCardRequestBody

        settings = json.dumps({"config": {"streaming_mode": False}})
        body = SettingsCardRequestBody.builder().settings(settings).uuid(uuid.uuid4().hex).sequence(sequence).build()
        req = SettingsCardRequest.builder().card_id(card_id).request_body(body).build()
        await self._ok(self._api.cardkit.v1.card.settings, req, "close streaming")

    async def replace(self, card_id: str, doc: dict[str, Any], sequence: int) -> None:
        from lark_oapi.api.cardkit.v1 import Card as CardData
        from lark_oapi.api.cardkit.v1 import UpdateCardRequest, UpdateCardRequestBody

        data = CardData.builder().type("card_json").data(json.dumps(doc, ensure_ascii=False)).build()
        body = UpdateCardRequestBody.builder().card(data).uuid(uuid.uuid4().hex).sequence(sequence).build()
        req = UpdateCardRequest.builder().card_id(card_id).request_body(body).build()
        await self._ok(self._api.cardkit.v1.card.update, req, "update card")

    async def update_entity(self, message_id: str, doc: dict[str, Any]) -> bool:
        """Replace a card sent by card_id (False: not one of ours, the caller PATCHes the message instead)."""
        entry = await self.entities.next_update(message_id)
        if entry is None:
            return False
        async with self.window.slot():
            await self.replace(entry[0], doc, entry[1])
        return True


def streaming_card(title: str, text: str) -> dict[str, Any]:
    """The card entity while streaming: a header and one markdown element the text goes into. `text` is
    already escaped; `title` is plain text. No buttons until streaming closes."""
    return {
        "schema": "2.0",
        "config": {
            "streaming_mode": True,
            "update_multi": True,
            "width_mode": "fill",
            "summary": {"content": title},
        },
        "header": {"title": {"tag": "plain_text", "content": title}, "template": HEADER_COLORS["info"]},
        "body": {"elements": [{"tag": "markdown", "element_id": STREAM_ELEMENT, "content": text}]},
    }


def escaped(text: str) -> str:
    """Streamed text passes the same escaping as card text (`Markdown` blocks): light markdown only."""
    return light(stream_tail(text, STREAM_TEXT_CHARS), FEISHU)


class CardKitStream(NativeStream):
    """`CardStream` on Feishu. `render` turns a Card into card JSON 2.0 (the responder's signer and language);
    `send` posts a message and returns its id (the responder's reply-or-create)."""

    def __init__(
        self,
        kit: CardKit,
        *,
        title: str,
        lang: Lang,
        render: Callable[[Card], dict[str, Any]],
        send: Callable[[str], Awaitable[str | None]],
        interval: float = STREAM_INTERVAL,
    ) -> None:
        super().__init__(interval=interval, window=kit.window)
        self._kit = kit
        self._title = title
        self._lang = lang
        self._render = render
        self._send = send
        self._card_id: str | None = None
        self._sequence = 0
        self._created = time.time()

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    async def _open(self, text: str) -> str | None:
        self._card_id = await self._kit.create(streaming_card(self._title, escaped(text)))
        message_id = await self._send(json.dumps({"type": "card", "data": {"card_id": self._card_id}}))
        if message_id:
            await self._kit.entities.remember(message_id, self._card_id, self._created, self._sequence)
        return message_id

    async def _put(self, text: str) -> None:
        assert self._card_id is not None
        await self._kit.content(self._card_id, escaped(text), self._next())

    async def _end(self, doc: dict[str, Any]) -> None:
        assert self._card_id is not None
        try:
            async with self._window.slot():
                await self._kit.end_streaming(self._card_id, self._next())
        finally:  # even when closing failed: the final card still replaces the text (its config has no streaming)
            async with self._window.slot():
                await self._kit.replace(self._card_id, doc, self._next())
            if self._ref:
                await self._kit.entities.remember(self._ref, self._card_id, self._created, self._sequence)

    async def _finish(self, card: Card) -> None:
        await self._end(self._render(card))

    async def _abort(self, text: str) -> None:
        failed = Card(title=tr(self._lang, "出错了", "Failed"), blocks=(Markdown(text),), tone=Tone.DANGER)
        await self._end(self._render(failed))

    async def _send_plain(self, card: Card) -> str | None:
        return await self._send(json.dumps(self._render(card), ensure_ascii=False))
