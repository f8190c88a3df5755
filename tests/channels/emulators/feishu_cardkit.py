"""CardKit card entities for the Feishu emulator: create, stream element text, settings, full update; and the
limits the real platform enforces on them, refused with its error codes:
- `sequence` must rise strictly per card (300317, cardkit-v1 card/settings "Error codes");
- at most 10 updates per second per card entity and 50/s, 1,000/min per app (99991400, the platform's
  frequency-limit code; landscape.md "Platform conventions");
- streaming text only while `streaming_mode` is on (300309), request bodies up to 30 KB (200860);
- a streaming card left open is not refused but reported: `unclosed()` / `assert_all_closed()`.
Also: a message sent with {"type": "card", "data": {"card_id": ...}} shows the entity, and follows its updates.
Limits are checked against arrival times (monotonic clock), no sleeping: the checks are clock-free for tests.
"""

from __future__ import annotations

import collections
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.channels.emulators.feishu import FeishuEmulator

CARDS = "/open-apis/cardkit/v1/cards"
PER_CARD_PER_SECOND = 10
APP_PER_SECOND = 50
APP_PER_MINUTE = 1000
MAX_BODY_BYTES = 30_000


@dataclass
class CardEntity:
    card_id: str
    doc: dict[str, Any]
    sequence: int = 0
    message_ids: list[str] = field(default_factory=list)
    update_times: list[float] = field(default_factory=list)  # every accepted update of this card (monotonic)
    text_updates: list[float] = field(default_factory=list)  # accepted streaming-text updates (monotonic)
    closed_at: float | None = None
    created_at: float = field(default_factory=time.monotonic)

    @property
    def streaming(self) -> bool:
        return bool(self.doc.get("config", {}).get("streaming_mode"))

    def text_rate(self) -> float:
        """Streaming-text updates per second over the card's streaming life."""
        if len(self.text_updates) < 2:
            return 0.0
        return (len(self.text_updates) - 1) / max(1e-9, self.text_updates[-1] - self.text_updates[0])

    def max_in_a_second(self) -> int:
        times, best, j = self.update_times, 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best


class CardKitEmulator:
    def __init__(self, emulator: FeishuEmulator) -> None:
        self._emu = emulator
        self.cards: dict[str, CardEntity] = {}
        self.refused: list[str] = []
        self._app_calls: collections.deque[float] = collections.deque()
        self._ids = itertools.count(7_355_000_000_000_000_001)
        self.scope_granted = True  # False: the app lacks cardkit:card:write, as on a tenant not yet updated

    def routes(self, app: web.Application) -> None:
        app.router.add_post(CARDS, self._create)
        app.router.add_put(CARDS + "/{card_id}", self._update)
        app.router.add_patch(CARDS + "/{card_id}/settings", self._settings)
        app.router.add_put(CARDS + "/{card_id}/elements/{element_id}/content", self._content)

    # --- what the messages API asks ------------------------------------------------------------------------------

    def resolve(self, message_id: str, content: dict[str, Any]) -> dict[str, Any] | None:
        """A message's content: the entity's card for {"type": "card", "data": {"card_id"}} (None: unknown)."""
        if content.get("type") != "card":
            return content
        card = self.cards.get(str((content.get("data") or {}).get("card_id")))
        if card is None:
            return None
        card.message_ids.append(message_id)
        return card.doc

    def is_entity_message(self, message_id: str) -> bool:
        return any(message_id in c.message_ids for c in self.cards.values())

    # --- what tests ask ------------------------------------------------------------------------------------------

    def unclosed(self) -> list[str]:
        """Cards still in streaming mode: their chat preview stays "[生成中...]" until streaming ends."""
        return [c.card_id for c in self.cards.values() if c.streaming]

    def assert_all_closed(self) -> None:
        open_ = self.unclosed()
        assert not open_, f"streaming cards left open: {open_}; refused calls: {self.refused}"

    def for_message(self, message_id: str) -> CardEntity:
        for card in self.cards.values():
            if message_id in card.message_ids:
                return card
        raise AssertionError(f"message {message_id} was not sent by card_id")

    # --- OpenAPI -------------------------------------------------------------------------------------------------

    def _refuse(self, code: int, msg: str, status: int = 400) -> web.Response:
        self.refused.append(f"{code}: {msg}")
        return web.json_response({"code": code, "msg": msg}, status=status)

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        if request.headers.get("Authorization") != f"Bearer {self._emu.token}":
            return web.json_response({"code": 99991663, "msg": "invalid token"}, status=401)
        raw = await request.read()
        if len(raw) > MAX_BODY_BYTES:
            return self._refuse(200860, f"card content exceeds limit: {len(raw)} > {MAX_BODY_BYTES} bytes")
        now = time.monotonic()
        while self._app_calls and self._app_calls[0] <= now - 60:
            self._app_calls.popleft()
        last_second = sum(1 for t in self._app_calls if t > now - 1)
        if last_second >= APP_PER_SECOND or len(self._app_calls) >= APP_PER_MINUTE:
            return self._refuse(99991400, "request trigger frequency limit (per app)")
        self._app_calls.append(now)
        doc: dict[str, Any] = json.loads(raw)
        return doc

    def _card_doc(self, body: dict[str, Any]) -> dict[str, Any] | web.Response:
        if body.get("type") != "card_json":
            return self._refuse(10002, "type must be card_json")
        try:
            doc = json.loads(str(body.get("data") or ""))
        except ValueError:
            return self._refuse(200220, "failed to generate card content: data is not JSON")
        if not isinstance(doc, dict) or doc.get("schema") != "2.0":
            return self._refuse(10002, "only card JSON 2.0 is supported")
        if doc.get("config", {}).get("update_multi") is False:
            return self._refuse(300302, "update_multi property is false")
        return doc

    def _ordered(self, request: web.Request, body: dict[str, Any]) -> CardEntity | web.Response:
        """The card, if this update may go: it exists, its sequence rises, its rate is within the limit."""
        card = self.cards.get(request.match_info["card_id"])
        if card is None:
            return self._refuse(200740, "the card entity does not exist")
        seq = body.get("sequence")
        if not isinstance(seq, int) or not 1 <= seq <= 2**31 - 1:
            return self._refuse(10002, f"sequence must be a positive int32, got {seq!r}")
        if seq <= card.sequence:
            return self._refuse(300317, f"sequence {seq} does not rise above {card.sequence} (card {card.card_id})")
        now = time.monotonic()
        recent = [t for t in card.update_times if t > now - 1.0]
        if len(recent) >= PER_CARD_PER_SECOND:
            return self._refuse(99991400, f"more than {PER_CARD_PER_SECOND} updates/s on card {card.card_id}")
        card.sequence = seq
        card.update_times.append(now)
        return card

    def _show(self, card: CardEntity) -> None:
        """Every message showing the entity now shows its new state (one version per update)."""
        for mid in card.message_ids:
            msg = self._emu.messages.get(mid)
            if msg is not None:
                msg.content = card.doc
                msg.versions.append(card.doc)

    async def _create(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if not self.scope_granted:
            return self._refuse(
                99991672, "Access denied. One of the following scopes is required: [cardkit:card:write]"
            )
        doc = self._card_doc(body)
        if isinstance(doc, web.Response):
            return doc
        card_id = str(next(self._ids))
        self.cards[card_id] = CardEntity(card_id, doc)
        return web.json_response({"code": 0, "msg": "success", "data": {"card_id": card_id}})

    async def _content(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        card = self._ordered(request, body)
        if isinstance(card, web.Response):
            return card
        if not card.streaming:
            return self._refuse(300309, f"streaming mode is closed on card {card.card_id}")
        element_id = request.match_info["element_id"]
        found = False
        doc = json.loads(json.dumps(card.doc))
        for el in doc.get("body", {}).get("elements", []):
            if el.get("element_id") == element_id:
                el["content"], found = str(body.get("content", "")), True
        if not found:
            return self._refuse(300301, f"no element {element_id!r} on card {card.card_id}")
        card.doc = doc
        card.text_updates.append(card.update_times[-1])
        self._show(card)
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    async def _settings(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        card = self._ordered(request, body)
        if isinstance(card, web.Response):
            return card
        try:
            settings = json.loads(str(body.get("settings") or ""))
        except ValueError:
            return self._refuse(10002, "settings is not a JSON string")
        config = settings.get("config") if isinstance(settings, dict) else None
        if not isinstance(config, dict):
            return self._refuse(10002, "settings has no config")
        card.doc = {**card.doc, "config": {**card.doc.get("config", {}), **config}}
        if not card.streaming and card.closed_at is None:
            card.closed_at = time.monotonic()
        self._show(card)
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    async def _update(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        card = self._ordered(request, body)
        if isinstance(card, web.Response):
            return card
        doc = self._card_doc(body.get("card") or {})
        if isinstance(doc, web.Response):
            return doc
        card.doc = doc
        self._show(card)
        return web.json_response({"code": 0, "msg": "success", "data": {}})
