"""DingTalk Stream gateway + OpenAPI emulator speaking the wire protocol `dingtalk-stream` 0.24.3 expects."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.channels.emulators.base import EmulatorServer

MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"


@dataclass
class SentCard:
    biz_id: str
    conversation_id: str | None
    user_id: str | None
    data: dict[str, Any]
    versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.data["header"]["title"]["text"])

    @property
    def text(self) -> str:
        """Every visible text of the card, for assertions."""
        parts = [self.title]
        for el in self.data.get("contents", []):
            if "text" in el:
                parts.append(str(el["text"]))
            for b in el.get("actions", []):
                parts.append(str(b["label"]["text"]))
        return "\n".join(parts)

    def buttons(self) -> list[dict[str, Any]]:
        return [b for el in self.data.get("contents", []) for b in el.get("actions", [])]

    def button(self, label_part: str) -> dict[str, Any]:
        for b in self.buttons():
            if label_part in b["label"]["text"]:
                return b
        raise AssertionError(
            f"no button with {label_part!r} on card {self.title!r}: {[b['label']['text'] for b in self.buttons()]}"
        )


class DingTalkEmulator(EmulatorServer):
    def __init__(self, client_id: str = "ding-client", client_secret: str = "ding-secret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.token = f"tok-{uuid.uuid4().hex[:8]}"
        self.tickets: list[str] = []
        self.connections = 0
        self.subscriptions: list[Any] = []
        self.cards: dict[str, SentCard] = {}
        self.card_order: list[str] = []
        self.texts: list[dict[str, Any]] = []
        self._ws: web.WebSocketResponse | None = None
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()
        self._ids = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        app.router.add_post("/v1.0/oauth2/accessToken", self._token)
        app.router.add_post("/v1.0/im/v1.0/robot/interactiveCards/send", self._send_card)
        app.router.add_put("/v1.0/im/robots/interactiveCards", self._update_card)
        app.router.add_post("/v1.0/robot/groupMessages/send", self._send_text)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._send_text)

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
    ) -> dict[str, Any]:
        return {
            "conversationId": conversation_id,
            "chatbotCorpId": "corp-1",
            "chatbotUserId": "bot-user",
            "msgId": msg_id or f"msg-{uuid.uuid4().hex[:10]}",
            "senderNick": nick,
            "isAdmin": False,
            "senderStaffId": user_id,
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
    ) -> dict[str, Any]:
        button = card.button(label_part)
        content = {"cardPrivateData": {"actionIds": [button["id"]], "params": params or button["params"]}}
        data = {
            "extension": "{}",
            "corpId": "corp-1",
            "spaceType": "IM",
            "userIdType": 1,
            "type": "actionCallback",
            "userId": user_id,
            "content": json.dumps(content, ensure_ascii=False),
            "spaceId": card.conversation_id or "",
            "outTrackId": card.biz_id,
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

    async def _send_card(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        body = await request.json()
        data = json.loads(body["cardData"])
        receiver = json.loads(body["singleChatReceiver"])["userId"] if "singleChatReceiver" in body else None
        card = SentCard(body["cardBizId"], body.get("openConversationId"), receiver, data, [data])
        self.cards[card.biz_id] = card
        self.card_order.append(card.biz_id)
        return web.json_response({"processQueryKey": uuid.uuid4().hex})

    async def _update_card(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        body = await request.json()
        card = self.cards.get(body["cardBizId"])
        if card is None:
            return web.json_response({"code": "cardNotFound"}, status=400)
        card.data = json.loads(body["cardData"])
        card.versions.append(card.data)
        return web.json_response({"success": True})

    async def _send_text(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        body = await request.json()
        self.texts.append({**body, "text": json.loads(body["msgParam"])["content"]})
        return web.json_response({"processQueryKey": uuid.uuid4().hex})

    def sent_cards(self) -> list[SentCard]:
        return [self.cards[i] for i in list(self.card_order)]

    async def wait_cards(self, count: int, within: float = 15.0) -> list[SentCard]:
        await self.wait_calls("POST", "/v1.0/im/v1.0/robot/interactiveCards/send", count, within)
        return self.sent_cards()

    async def wait_updates(self, count: int, within: float = 15.0) -> None:
        await self.wait_calls("PUT", "/v1.0/im/robots/interactiveCards", count, within)
