"""Feishu / Lark long-connection gateway + OpenAPI emulator speaking what `lark-oapi` 1.7.5 expects:
endpoint discovery over HTTP, protobuf `pbbp2.Frame`s over the websocket, `/open-apis/im/v1/messages`."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from lark_oapi.ws.pb.pbbp2_pb2 import Frame

from tests.channels.emulators import feishu_extra
from tests.channels.emulators.base import EmulatorServer
from tests.channels.emulators.feishu_cardkit import CardKitEmulator

SERVICE_ID = 7


@dataclass
class FeishuMessage:
    message_id: str
    chat_id: str
    msg_type: str
    content: dict[str, Any]
    reply_to: str | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    patches: int = 0  # edits by PATCH: Feishu refuses the 21st (230072)

    @property
    def title(self) -> str:
        return str(self.content["header"]["title"]["content"]) if self.msg_type == "interactive" else ""

    def _elements(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []

        def walk(items: list[dict[str, Any]]) -> None:
            for el in items:
                out.append(el)
                for col in el.get("columns", []) if el.get("tag") == "column_set" else []:
                    walk(col.get("elements", []))

        walk(self.content.get("body", {}).get("elements", []))
        return out

    @property
    def text(self) -> str:
        if self.msg_type == "text":
            return str(self.content.get("text", ""))
        parts = [self.title]
        for el in self._elements():
            if el.get("tag") == "markdown":
                parts.append(str(el["content"]))
            elif el.get("tag") == "table":
                parts.append(" ".join(c["display_name"] for c in el["columns"]))
                parts.extend(" ".join(str(v) for v in row.values()) for row in el["rows"])
            elif el.get("tag") == "button":
                parts.append(str(el["text"]["content"]))
        return "\n".join(parts)

    def buttons(self) -> list[dict[str, Any]]:
        return [el for el in self._elements() if el.get("tag") == "button"]

    def button(self, label_part: str) -> dict[str, Any]:
        for b in self.buttons():
            if label_part in b["text"]["content"]:
                return b
        raise AssertionError(
            f"no button with {label_part!r} on {self.title!r}: {[b['text']['content'] for b in self.buttons()]}"
        )


# Feishu's send-message docs: text bodies up to 150 KB, card and rich-text bodies up to 30 KB, counted on the
# request body as sent (the card is an escaped string in it). 30,000: the stricter reading of "30 KB".
MAX_TEXT_BODY_BYTES = 150 * 1024
MAX_CARD_BODY_BYTES = 30_000
MAX_PATCHES = 20


class FeishuEmulator(EmulatorServer):
    def __init__(
        self, app_id: str = "cli_emulated", app_secret: str = "feishu-secret", bot_open_id: str = "ou_bot"
    ) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_secret = app_secret
        self.bot_open_id = bot_open_id
        self.token = f"t-{uuid.uuid4().hex[:8]}"
        self.connections = 0
        self.pings = 0
        self.messages: dict[str, FeishuMessage] = {}
        self.order: list[str] = []
        self._ws: web.WebSocketResponse | None = None
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        # Replies name only the message replied to; the emulator learns the chat of each message it pushed.
        self.inbound_chats: dict[str, str] = {}
        # the tenant's contact directory (open_id -> name) and how often each was looked up
        self.users: dict[str, str] = {}
        self.contact_lookups: list[str] = []
        self.body_sizes: list[int] = []  # bytes of each message body received (create, reply, patch)
        self.cardkit = CardKitEmulator(self)  # card entities, streaming (feishu_cardkit.py)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/callback/ws/endpoint", self._endpoint)
        app.router.add_get("/ws", self._connect)
        app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", self._tenant_token)
        app.router.add_get("/open-apis/bot/v3/info", self._bot_info)
        app.router.add_post("/open-apis/im/v1/messages", self._create)
        app.router.add_post("/open-apis/im/v1/messages/{message_id}/reply", self._reply)
        app.router.add_patch("/open-apis/im/v1/messages/{message_id}", self._patch)
        app.router.add_get("/open-apis/contact/v3/users/{user_id}", self._contact_user)
        self.extra = feishu_extra.register(self, app)  # urgent_app, image upload, card checks
        self.cardkit.routes(app)

    # --- gateway ----------------------------------------------------------------------------------------------

    async def _endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("AppID") != self.app_id or body.get("AppSecret") != self.app_secret:
            return web.json_response({"code": 514, "msg": "auth failed"})
        url = f"ws://127.0.0.1:{self.port}/ws?device_id=dev-{uuid.uuid4().hex[:6]}&service_id={SERVICE_ID}"
        # All four ClientConfig fields: a partial config leaves None in the SDK's ping/reconnect timers.
        config = {"ReconnectCount": -1, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 120}
        return web.json_response({"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}})

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            frame = Frame()
            frame.ParseFromString(msg.data)
            headers = {h.key: h.value for h in frame.headers}
            if frame.method == 0 and headers.get("type") == "ping":
                self.pings += 1
                pong = Frame(SeqID=0, LogID=0, service=SERVICE_ID, method=0)
                h = pong.headers.add()
                h.key, h.value = "type", "pong"
                await ws.send_bytes(pong.SerializeToString())
            elif frame.method == 1:
                fut = self._acks.pop(headers.get("message_id", ""), None)
                if fut is not None and not fut.done():
                    fut.set_result(json.loads(frame.payload))
        if self._ws is ws:
            self._ws = None
        return ws

    async def _wait_connected(self, connections: int, within: float) -> None:
        deadline = time.monotonic() + within
        while self._ws is None or self.connections < connections:
            if time.monotonic() > deadline:
                raise AssertionError(f"the SDK did not connect (connections so far: {self.connections})")
            await asyncio.sleep(0.02)

    async def wait_connected(self, connections: int = 1, within: float = 20.0) -> None:
        await self.run(self._wait_connected(connections, within))

    async def _push(self, payload: dict[str, Any], frame_id: str, within: float) -> dict[str, Any]:
        assert self._ws is not None, "no SDK connected"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[frame_id] = fut
        frame = Frame(SeqID=next(self._ids), LogID=0, service=SERVICE_ID, method=1)
        for key, value in (
            ("type", "event"),
            ("message_id", frame_id),
            ("trace_id", uuid.uuid4().hex),
            ("sum", "1"),
            ("seq", "0"),
        ):
            h = frame.headers.add()
            h.key, h.value = key, value
        frame.payload = json.dumps(payload, ensure_ascii=False).encode()
        await self._ws.send_bytes(frame.SerializeToString())
        return await asyncio.wait_for(fut, within)

    async def push(self, payload: dict[str, Any], frame_id: str | None = None, within: float = 5.0) -> dict[str, Any]:
        """Push one event frame; returns the SDK's ack ({"code": 200, "data": base64 of the handler result})."""
        return await self.run(self._push(payload, frame_id or f"frame-{next(self._ids)}", within))

    async def _drop(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def drop_connection(self) -> None:
        await self.run(self._drop())

    # --- what a user does -------------------------------------------------------------------------------------

    def _header(self, event_type: str, event_id: str | None = None) -> dict[str, Any]:
        return {
            "event_id": event_id or uuid.uuid4().hex,
            "event_type": event_type,
            "create_time": str(int(time.time() * 1000)),
            "token": "",
            "app_id": self.app_id,
            "tenant_key": "tenant-1",
        }

    def message_event(
        self,
        text: str,
        *,
        group: bool = True,
        at_bot: bool = True,
        chat_id: str = "oc_group_1",
        user: str = "ou_alice",
        message_id: str | None = None,
        also_mention: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        mentions = []
        body = text
        if group and at_bot:
            mentions.append(
                {"key": "@_user_1", "id": {"open_id": self.bot_open_id}, "name": "KubeDuty", "tenant_key": "tenant-1"}
            )
            body = f"@_user_1 {text}"
        if also_mention:
            mentions.append(
                {
                    "key": "@_user_2",
                    "id": {"open_id": also_mention[0]},
                    "name": also_mention[1],
                    "tenant_key": "tenant-1",
                }
            )
            body = f"@_user_2 {body}"
        message_id = message_id or f"om_in_{uuid.uuid4().hex[:10]}"
        self.inbound_chats[message_id] = chat_id
        return {
            "schema": "2.0",
            "header": self._header("im.message.receive_v1"),
            "event": {
                "sender": {
                    "sender_id": {"open_id": user, "user_id": f"u-{user}", "union_id": f"on-{user}"},
                    "sender_type": "user",
                    "tenant_key": "tenant-1",
                },
                "message": {
                    "message_id": message_id,
                    "create_time": str(int(time.time() * 1000)),
                    "chat_id": chat_id,
                    "chat_type": "group" if group else "p2p",
                    "message_type": "text",
                    "content": json.dumps({"text": body}, ensure_ascii=False),
                    "mentions": mentions,
                },
            },
        }

    async def say(self, text: str, **kwargs: Any) -> dict[str, Any]:
        return await self.push(self.message_event(text, **kwargs))

    def click_event(
        self,
        message: FeishuMessage,
        label_part: str,
        *,
        user: str = "ou_alice",
        value: Any = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        button = message.button(label_part)
        behaviour_value = button["behaviors"][0]["value"]
        return {
            "schema": "2.0",
            "header": self._header("card.action.trigger", event_id),
            "event": {
                "operator": {
                    "tenant_key": "tenant-1",
                    "user_id": f"u-{user}",
                    "open_id": user,
                    "union_id": f"on-{user}",
                },
                "token": "c-" + uuid.uuid4().hex,
                "action": {"value": value if value is not None else behaviour_value, "tag": "button"},
                "host": "im_message",
                "context": {"open_message_id": message.message_id, "open_chat_id": message.chat_id},
            },
        }

    async def click(self, message: FeishuMessage, label_part: str, **kwargs: Any) -> dict[str, Any]:
        """Click a button; like Feishu, a card in the callback's answer replaces the clicked card.
        Returns the decoded answer ({"toast": ..., "card": ...}) or {} ."""
        ack = await self.push(self.click_event(message, label_part, **kwargs))
        return self.apply_answer(message.message_id, ack)

    def apply_answer(self, message_id: str, ack: dict[str, Any]) -> dict[str, Any]:
        assert ack.get("code") == 200, ack
        answer = json.loads(base64.b64decode(ack["data"])) if ack.get("data") else {}
        card = (answer.get("card") or {}).get("data")
        if card:
            msg = self.messages[message_id]
            msg.content = card
            msg.versions.append(card)
        return answer

    # --- OpenAPI ----------------------------------------------------------------------------------------------

    async def _tenant_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            return web.json_response({"code": 10014, "msg": "app secret invalid"})
        return web.json_response({"code": 0, "msg": "ok", "tenant_access_token": self.token, "expire": 7200})

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _bot_info(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 99991663, "msg": "invalid token"}, status=401)
        return web.json_response(
            {"code": 0, "msg": "ok", "bot": {"app_name": "KubeDuty", "open_id": self.bot_open_id, "activate_status": 2}}
        )

    async def _contact_user(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 99991663, "msg": "invalid token"}, status=401)
        if request.query.get("user_id_type") != "open_id":
            return web.json_response({"code": 99992402, "msg": "field validation failed"}, status=400)
        open_id = request.match_info["user_id"]
        self.contact_lookups.append(open_id)
        name = self.users.get(open_id)
        if name is None:  # the real API's answer for an id outside the app's contact scope
            return web.json_response({"code": 41050, "msg": "no user authority error"}, status=400)
        return web.json_response({"code": 0, "msg": "success", "data": {"user": {"open_id": open_id, "name": name}}})

    def _store(self, chat_id: str, body: dict[str, Any], reply_to: str | None) -> web.Response:
        mid = f"om_out_{next(self._ids)}"
        content = self.cardkit.resolve(mid, json.loads(body["content"]))  # a card entity sent by card_id
        if content is None:
            return web.json_response({"code": 200740, "msg": "the card entity does not exist"}, status=400)
        self.messages[mid] = FeishuMessage(mid, chat_id, body["msg_type"], content, reply_to, [content])
        self.order.append(mid)
        return web.json_response(
            {"code": 0, "msg": "success", "data": {"message_id": mid, "chat_id": chat_id, "msg_type": body["msg_type"]}}
        )

    async def _sized_body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The JSON body, or Feishu's refusal when the body AS SENT is over its limit (cards: 30 KB)."""
        raw = await request.read()
        body: dict[str, Any] = json.loads(raw)
        limit = MAX_TEXT_BODY_BYTES if body.get("msg_type") == "text" else MAX_CARD_BODY_BYTES
        self.body_sizes.append(len(raw))
        if len(raw) > limit:
            return web.json_response(
                {"code": 230025, "msg": f"message content too long: {len(raw)} > {limit} bytes"}, status=400
            )
        return body

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 99991663, "msg": "invalid token"}, status=401)
        if request.query.get("receive_id_type") != "chat_id":
            return web.json_response({"code": 230001, "msg": "bad receive_id_type"}, status=400)
        body = await self._sized_body(request)
        if isinstance(body, web.Response):
            return body
        return self._store(body["receive_id"], body, None)

    async def _reply(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 99991663, "msg": "invalid token"}, status=401)
        body = await self._sized_body(request)
        if isinstance(body, web.Response):
            return body
        chat_id = self.inbound_chats.get(request.match_info["message_id"], "oc_unknown")
        return self._store(chat_id, body, request.match_info["message_id"])

    async def _patch(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 99991663, "msg": "invalid token"}, status=401)
        msg = self.messages.get(request.match_info["message_id"])
        if msg is None:
            return web.json_response({"code": 230011, "msg": "message not found"}, status=400)
        if msg.patches >= MAX_PATCHES:  # a real tenant caps edits of one message at about 20
            return web.json_response({"code": 230072, "msg": "the message has been edited too many times"}, status=400)
        body = await self._sized_body(request)
        if isinstance(body, web.Response):
            return body
        msg.patches += 1
        msg.content = json.loads(body["content"])
        msg.versions.append(msg.content)
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    def sent(self) -> list[FeishuMessage]:
        return [self.messages[i] for i in list(self.order)]

    async def wait_sent(self, count: int, within: float = 15.0) -> list[FeishuMessage]:
        deadline = time.monotonic() + within
        while len(self.order) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} messages from the bot, got {len(self.order)}: {[m.text[:80] for m in self.sent()]}"
                )
            await asyncio.sleep(0.02)
        return self.sent()
