"""DingTalk Stream gateway + OpenAPI emulator speaking the wire protocol `dingtalk-stream` 0.24.3 expects.

Cards are advanced message cards (消息卡片高级版): created and delivered with
`POST /v1.0/card/instances/createAndDeliver`, updated with `PUT /v1.0/card/instances`, clicks pushed on
`/v1.0/card/instances/callback`. The emulator refuses what DingTalk would not deliver over Stream: a card without
`callbackType: "STREAM"` (the ordinary StandardCard API has no Stream callbacks at all, so it is not emulated),
an unknown template, a malformed `openSpaceId`, non-string card data. Sources: SDK card_replier.py and
card_callback.py; open-dingtalk/developerpedia docs/learn/card/intro.md; official OpenAPI models
CreateAndDeliverRequest/Response; open-dingtalk/dingtalk-card-examples (callback `cardPrivateData`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.channels.emulators import dingtalk_cards, dingtalk_extra
from tests.channels.emulators.base import EmulatorServer
from tests.channels.emulators.dingtalk_aicard import AICardEmulator

MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
CREATE_AND_DELIVER = "/v1.0/card/instances/createAndDeliver"
CARD_INSTANCES = "/v1.0/card/instances"

# The emulated card template (README "DingTalk: the card template"): the variables it declares, and, for the loop
# over `buttons`, the loop-item fields its request button sends back as `cardPrivateData.params`.
TEMPLATE_VARIABLES = frozenset({"title", "lastMessage", "markdown", "footer", "buttons"})
BUTTON_PARAMS = ("p", "cid", "g")


@dataclass
class SentCard:
    """One card instance as DingTalk holds it: its public data (`cardParamMap`), rendered by the template."""

    out_track_id: str
    conversation_id: str | None
    user_id: str | None
    data: dict[str, str]
    versions: list[dict[str, str]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.data.get("title", "")

    @property
    def text(self) -> str:
        """Every visible text of the card, for assertions."""
        parts = [self.title, self.data.get("markdown", ""), self.data.get("footer", "")]
        parts += [b["label"]["text"] for b in self.buttons()]
        return "\n".join(p for p in parts if p)

    def buttons(self) -> list[dict[str, Any]]:
        """The buttons the template's loop renders: label, actionId and the params a click sends."""
        items = json.loads(self.data.get("buttons") or "[]")
        return [
            {
                "id": str(item["id"]),
                "label": {"text": str(item["text"])},
                "params": {name: item[name] for name in BUTTON_PARAMS if name in item},
            }
            for item in items
        ]

    def button(self, label_part: str) -> dict[str, Any]:
        for b in self.buttons():
            if label_part in b["label"]["text"]:
                return b
        raise AssertionError(
            f"no button with {label_part!r} on card {self.title!r}: {[b['label']['text'] for b in self.buttons()]}"
        )


class DingTalkEmulator(EmulatorServer):
    def __init__(
        self,
        client_id: str = "ding-client",
        client_secret: str = "ding-secret",
        template_id: str = "kubeduty-card-test.schema",
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.template_id = template_id
        self.token = f"tok-{uuid.uuid4().hex[:8]}"
        self.tickets: list[str] = []
        self.connections = 0
        self.subscriptions: list[Any] = []
        self.cards: dict[str, SentCard] = {}
        self.card_order: list[str] = []
        self.texts: list[dict[str, Any]] = []
        self.refused: list[str] = []  # why OpenAPI calls were refused, for failure messages
        self._ws: web.WebSocketResponse | None = None
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()
        self._ids = itertools.count(1)
        self.aicard = AICardEmulator(self)  # AI cards and streaming (dingtalk_aicard.py)

    def routes(self, app: web.Application) -> None:
        self.aicard.routes(app)
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        app.router.add_post("/v1.0/oauth2/accessToken", self._token)
        app.router.add_post(CREATE_AND_DELIVER, self._send_card)
        app.router.add_put(CARD_INSTANCES, self._update_card)
        app.router.add_post("/v1.0/robot/groupMessages/send", self._send_text)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._send_text)
        self.extra = dingtalk_extra.register(self, app)  # media upload, DING, at-list and image checks

    # --- gateway ----------------------------------------------------------------------------------------------

    async def _open(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        self.subscriptions = body.get("subscriptions", [])
        ticket = uuid.uuid4().hex
        self.tickets.append(ticket)
        return web.json_response({"endpoint": f"ws://127.0.0.1:{self.port}/connect", "ticket": ticket})

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self.tickets:
            return web.Response(status=403)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        self._connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                doc = json.loads(msg.data)
                mid = str(doc.get("headers", {}).get("messageId", ""))
                fut = self._acks.pop(mid, None)
                if fut is not None and not fut.done():
                    fut.set_result(doc)
        if self._ws is ws:
            self._ws = None
            self._connected.clear()
        return ws

    async def _wait_connected(self, connections: int, within: float) -> None:
        deadline = time.monotonic() + within
        while self._ws is None or self.connections < connections:
            if time.monotonic() > deadline:
                raise AssertionError(f"the SDK did not connect (connections so far: {self.connections})")
            await asyncio.sleep(0.02)

    async def wait_connected(self, connections: int = 1, within: float = 20.0) -> None:
        await self.run(self._wait_connected(connections, within))

    async def _push(self, topic: str, data: dict[str, Any], message_id: str, within: float) -> dict[str, Any]:
        assert self._ws is not None, "no SDK connected"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[message_id] = fut
        frame = {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "appId": "emulated-app",
                "connectionId": "conn-1",
                "contentType": "application/json",
                "messageId": message_id,
                "time": str(int(time.time() * 1000)),
                "topic": topic,
            },
            "data": json.dumps(data, ensure_ascii=False),
        }
        await self._ws.send_str(json.dumps(frame, ensure_ascii=False))
        return await asyncio.wait_for(fut, within)

    async def push(
        self, topic: str, data: dict[str, Any], message_id: str | None = None, within: float = 5.0
    ) -> dict[str, Any]:
        """Push one CALLBACK frame and return the SDK's ack."""
        return await self.run(self._push(topic, data, message_id or f"frame-{next(self._ids)}", within))

    async def _drop(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def drop_connection(self) -> None:
        await self.run(self._drop())

    # --- what a user does -------------------------------------------------------------------------------------

    def message_data(
        self,
        text: str,
        *,
        group: bool = True,
        at_bot: bool = True,
        conversation_id: str = "cid-group-1",
        user_id: str = "staff-alice",
        nick: str = "Alice",
        msg_id: str | None = None,
        staff: bool = True,
    ) -> dict[str, Any]:
        return {
            "conversationId": conversation_id,
            "chatbotCorpId": "corp-1",
            "chatbotUserId": "bot-user",
            "msgId": msg_id or f"msg-{uuid.uuid4().hex[:10]}",
            "senderNick": nick,
            "isAdmin": False,
            **({"senderStaffId": user_id} if staff else {}),
            "sessionWebhookExpiredTime": int(time.time() * 1000) + 3_600_000,
            "createAt": int(time.time() * 1000),
            "senderCorpId": "corp-1",
            "conversationType": "2" if group else "1",
            "senderId": f"$:LWCP_v1:${user_id}",
            "sessionWebhook": f"{self.url}/robot/sendBySession?session=x",
            "robotCode": self.client_id,
            "msgtype": "text",
            "isInAtList": bool(group and at_bot),
            "text": {"content": f" {text}"},
            **({"conversationTitle": "on-duty"} if group else {}),
        }

    async def say(self, text: str, **kwargs: Any) -> dict[str, Any]:
        data = self.message_data(text, **kwargs)
        return await self.push(MESSAGE_TOPIC, data, message_id=f"frame-{data['msgId']}")

    async def click(
        self,
        card: SentCard,
        label_part: str,
        *,
        user_id: str = "staff-alice",
        params: dict[str, Any] | None = None,
        frame_id: str | None = None,
        user_id_type: int = 1,
    ) -> dict[str, Any]:
        """Push the card callback a press of the button sends: the button's actionId and params."""
        button = card.button(label_part)
        content = {"cardPrivateData": {"actionIds": [button["id"]], "params": params or button["params"]}}
        data = {
            "extension": "{}",
            "corpId": "corp-1",
            "spaceType": "IM_GROUP" if card.conversation_id else "IM_ROBOT",
            "spaceId": card.conversation_id or card.user_id or "",
            "userIdType": user_id_type,
            "type": "actionCallback",
            "userId": user_id,
            "content": json.dumps(content, ensure_ascii=False),
            "outTrackId": card.out_track_id,
        }
        return await self.push(CARD_TOPIC, data, message_id=frame_id)

    # --- OpenAPI ----------------------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return web.json_response({"code": "invalidClientIdOrSecret"}, status=400)
        return web.json_response({"accessToken": self.token, "expireIn": 7200})

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("x-acs-dingtalk-access-token") == self.token

    def _refuse(self, code: str, why: str) -> web.Response:
        self.refused.append(f"{code}: {why}")
        return web.json_response({"code": code, "message": why}, status=400)

    def _card_data(self, body: dict[str, Any]) -> dict[str, str] | None:
        card_data = body.get("cardData")
        params = card_data.get("cardParamMap") if isinstance(card_data, dict) else None
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            return None  # the card API takes string values only; complex ones as JSON strings
        return params

    async def _send_card(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        body = await request.json()
        if (refused := await dingtalk_cards.refusal(self, request, body)) is not None:
            return refused
        variables = self.aicard.variables(body.get("cardTemplateId"), TEMPLATE_VARIABLES)
        if variables is None and body.get("cardTemplateId") != self.template_id:
            return self._refuse("cardInstance.wrong", f"template not found: {body.get('cardTemplateId')!r}")
        out_track_id = body.get("outTrackId")
        if not isinstance(out_track_id, str) or not out_track_id or out_track_id in self.cards:
            return self._refuse("card.outTrackIdError", f"bad or reused outTrackId {out_track_id!r}")
        if body.get("callbackType") != "STREAM":
            return self._refuse("param.invalid", "clicks reach a Stream client only with callbackType STREAM")
        data = self._card_data(body)
        if data is None:
            return self._refuse("param.invalid", "cardData.cardParamMap must map strings to strings")
        unknown = set(data) - (variables or TEMPLATE_VARIABLES)
        if unknown:
            return self._refuse("param.invalid", f"variables the template does not declare: {sorted(unknown)}")
        space = str(body.get("openSpaceId", ""))
        kind, _, space_id = space.removeprefix("dtv1.card//").partition(".")
        if not space.startswith("dtv1.card//") or not space_id:
            return self._refuse("param.invalid", f"bad openSpaceId {space!r}")
        if kind == "IM_GROUP":
            deliver = body.get("imGroupOpenDeliverModel") or {}
            if deliver.get("robotCode") != self.client_id or "imGroupOpenSpaceModel" not in body:
                return self._refuse("param.invalid", "IM_GROUP needs imGroupOpenSpaceModel and the robotCode")
            card = SentCard(out_track_id, space_id, None, data, [data])
        elif kind == "IM_ROBOT":
            deliver = body.get("imRobotOpenDeliverModel") or {}
            if deliver.get("spaceType") != "IM_ROBOT" or "imRobotOpenSpaceModel" not in body:
                return self._refuse("param.invalid", "IM_ROBOT needs imRobotOpenSpaceModel and its deliver model")
            card = SentCard(out_track_id, None, space_id, data, [data])
        else:
            return self._refuse("param.invalid", f"unsupported space type {kind!r}")
        self.cards[out_track_id] = card
        self.card_order.append(out_track_id)
        self.aicard.created(out_track_id, body.get("cardTemplateId"), data)
        await dingtalk_cards.record(self, request, out_track_id, body)
        result = {
            "outTrackId": out_track_id,
            "deliverResults": [{"spaceType": kind, "spaceId": space_id, "success": True}],
        }
        return web.json_response({"success": True, "result": result})

    async def _update_card(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        body = await request.json()
        card = self.cards.get(str(body.get("outTrackId")))
        if card is None:
            return self._refuse("card.notFound", f"no card {body.get('outTrackId')!r}")
        if (refused := await dingtalk_cards.refusal(self, request, body)) is not None:
            return refused
        data = self._card_data(body)
        if data is None:
            return self._refuse("param.invalid", "cardData.cardParamMap must map strings to strings")
        refusal = self.aicard.updating(card.out_track_id, data)  # >= 800 ms between updates of an AI card
        if refusal is not None:
            return refusal
        by_key = bool((body.get("cardUpdateOptions") or {}).get("updateCardDataByKey"))
        card.data = {**card.data, **data} if by_key else data
        card.versions.append(card.data)
        await dingtalk_cards.record(self, request, card.out_track_id, body)
        return web.json_response({"success": True, "result": True})

    async def _send_text(self, request: web.Request) -> web.Response:
        """Robot messages; `texts` records each with its visible `text` (sampleText content, or sampleMarkdown
        title and text)."""
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        body = await request.json()
        if body.get("robotCode") != self.client_id:
            return self._refuse("chatbot.notFound", f"unknown robotCode {body.get('robotCode')!r}")
        if (refused := dingtalk_cards.robot_refusal(self, body)) is not None:
            return refused
        param = json.loads(body["msgParam"])
        if body.get("msgKey") == "sampleText":
            text = param["content"]
        elif body.get("msgKey") == "sampleMarkdown":
            text = f"{param['title']}\n{param['text']}"
        else:
            return self._refuse("param.invalid", f"unemulated msgKey {body.get('msgKey')!r}")
        self.texts.append({**body, "text": text})
        return web.json_response({"processQueryKey": uuid.uuid4().hex})

    def sent_cards(self) -> list[SentCard]:
        return [self.cards[i] for i in list(self.card_order)]

    async def wait_cards(self, count: int, within: float = 15.0) -> list[SentCard]:
        await self.wait_calls("POST", CREATE_AND_DELIVER, count, within)
        if len(self.card_order) < count:
            raise AssertionError(f"{len(self.card_order)} cards accepted, wanted {count}; refused: {self.refused}")
        return self.sent_cards()

    async def wait_updates(self, count: int, within: float = 15.0) -> None:
        await self.wait_calls("PUT", CARD_INSTANCES, count, within)
        updates = sum(len(c.versions) - 1 for c in self.cards.values())
        if updates < count:
            raise AssertionError(f"{updates} card updates accepted, wanted {count}; refused: {self.refused}")
