"""Feishu / Lark long-connection adapter: the only importer of `lark_oapi`.

`lark_oapi.ws.Client` runs on a module-global event loop and `start()` blocks on it, so it gets a thread and
a fresh loop of its own. Its event handlers are synchronous on that loop: messages are handed to the bot's
loop at once; a card click waits a short, bounded time so the updated card can ride on the callback's own
response (no flicker, no extra API call), and falls back to a message PATCH when the bot is slower.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any

from bot.channels.common import BotLike, Health, LoopBridge, addressed_text, close_sdk_loop, reply_lang, stop_thread
from bot.core.events import CardActionEvent, Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.i18n import tr
from bot.render.feishu import button_payload, render_feishu
from bot.render.model import Card, bound_text

log = logging.getLogger(__name__)

CALLBACK_BUDGET_SECONDS = 2.0  # Feishu waits 3 s for a card callback's answer; keep a margin for the wire
CALLBACK_GRACE_SECONDS = 0.3  # after a toast or a new card, how long an in-place update may still follow
TEXT_LIMIT = 4000
CHAT_CACHE_SIZE = 10_000
# Feishu's "access token invalid/expired" codes: the SDK caches the tenant token per app for its whole lifetime,
# so a token revoked early (app secret rotated, tenant re-authorised) would fail every call until restart.
TOKEN_INVALID_CODES = frozenset({99991661, 99991663, 99991668})


class FeishuApiError(Exception):
    pass


def message_text(message_type: str, content: str) -> str | None:
    """The plain text of a `text` or rich-text `post` message, mentions left as their `@_user_N` keys."""
    try:
        doc = json.loads(content)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if message_type == "text":
        return str(doc.get("text", ""))
    if "content" not in doc:  # some deliveries wrap the post in its locale: {"zh_cn": {...}}
        doc = next((v for v in doc.values() if isinstance(v, dict)), {})
    lines = []
    for paragraph in doc.get("content") or []:
        parts = []
        for el in paragraph if isinstance(paragraph, list) else []:
            if not isinstance(el, dict):
                continue
            if el.get("tag") in ("text", "a", "code_block"):
                parts.append(str(el.get("text", "")))
            elif el.get("tag") == "at":
                parts.append(str(el.get("user_id", "")))
        lines.append("".join(parts))
    title = str(doc.get("title") or "")
    return "\n".join(([title] if title else []) + lines)


class _CallbackSlot:
    """The answer to one card click, filled from the bot's loop while the ws thread waits (bounded)."""

    def __init__(self, message_id: str | None, budget: float) -> None:
        self.message_id = message_id
        self._cond = threading.Condition()
        self._deadline = time.monotonic() + budget
        self._sealed = False
        self.toast: str | None = None
        self.card: dict[str, Any] | None = None

    def offer_card(self, ref: str, card: dict[str, Any]) -> bool:
        with self._cond:
            if self._sealed or ref != self.message_id:
                return False
            self.card = card
            self._sealed = True
            self._cond.notify_all()
            return True

    def offer_toast(self, text: str) -> bool:
        with self._cond:
            if self._sealed or self.toast is not None:
                return False
            self.toast = text
            self._nudge()
            return True

    def activity(self) -> None:
        with self._cond:
            self._nudge()

    def _nudge(self) -> None:
        self._deadline = min(self._deadline, time.monotonic() + CALLBACK_GRACE_SECONDS)
        self._cond.notify_all()

    def seal(self) -> None:
        with self._cond:
            self._sealed = True
            self._cond.notify_all()

    def wait(self) -> None:
        with self._cond:
            while not self._sealed:
                left = self._deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._sealed = True


class FeishuResponder:
    """`Responder` for one Feishu event: replies to the user's message, creates cards in the chat after a
    click, updates in place (callback answer or PATCH), toasts natively while the callback is open."""

    def __init__(
        self,
        *,
        adapter: FeishuAdapter,
        event: InboundEvent,
        reply_to: str | None = None,
        slot: _CallbackSlot | None = None,
    ) -> None:
        self._adapter = adapter
        self._conversation = event.conversation
        self._lang = reply_lang(event)
        self._reply_to = reply_to
        self._slot = slot

    def _render(self, card: Card) -> dict[str, Any]:
        chat_key = self._conversation.chat_key
        codec = self._adapter.bot.codec
        return render_feishu(card, sign=lambda action: codec.encode(action, chat_key), lang=self._lang)

    async def send(self, card: Card) -> str | None:
        if self._slot is not None:
            self._slot.activity()
        content = json.dumps(self._render(card), ensure_ascii=False)
        return await self._adapter.post_message(
            chat_id=self._conversation.chat_id, reply_to=self._reply_to, msg_type="interactive", content=content
        )

    async def update(self, ref: str, card: Card) -> None:
        doc = self._render(card)
        if self._slot is not None and self._slot.offer_card(ref, doc):
            return
        await self._adapter.patch_message(ref, json.dumps(doc, ensure_ascii=False))

    async def toast(self, text: str) -> None:
        if self._slot is not None and self._slot.offer_toast(text):
            return
        body, _ = bound_text(text, TEXT_LIMIT, tr(self._lang, "…（已截断）", "… (truncated)"))
        await self._adapter.post_message(
            chat_id=self._conversation.chat_id,
            reply_to=None,
            msg_type="text",
            content=json.dumps({"text": body}, ensure_ascii=False),
        )


class FeishuAdapter:
    platform = Platform.FEISHU

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        domain: str,
        bot: BotLike,
        callback_budget: float | None = None,
        api_timeout: float = 10.0,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._domain = domain.rstrip("/")
        self.bot = bot
        self._budget = CALLBACK_BUDGET_SECONDS if callback_budget is None else callback_budget
        self._api_timeout = api_timeout
        self._health = Health("feishu")
        self._bridge: LoopBridge | None = None
        self._thread: threading.Thread | None = None
        self._ws_loop: asyncio.AbstractEventLoop | None = None
        self._ws: Any = None
        self._api: Any = None
        self._bot_open_id: str | None = None
        self._stopping = threading.Event()
        # Card callbacks do not say whether the chat is a group; messages do. Unknown chats count as groups.
        self._chat_is_group: OrderedDict[str, bool] = OrderedDict()

    @property
    def health(self) -> Health:
        return self._health

    async def start(self) -> None:
        # Importing lark_oapi loads its whole API surface (seconds of CPU): keep that off the bot's loop,
        # where another platform may already be serving.
        lark = await asyncio.to_thread(importlib.import_module, "lark_oapi")
        self._bridge = LoopBridge(asyncio.get_running_loop(), "feishu")
        self._api = (
            lark.Client.builder()
            .app_id(self._app_id)
            .app_secret(self._app_secret)
            .domain(self._domain)
            .timeout(self._api_timeout)
            .log_level(lark.LogLevel.WARNING)
            .build()
        )
        self._bot_open_id = await asyncio.to_thread(self._fetch_bot_open_id)
        self._thread = threading.Thread(target=self._run_ws, name="feishu-ws", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        loop = self._ws_loop
        if loop is not None and not loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown_ws(), loop)
            except RuntimeError:  # the loop closed in between
                pass
        await asyncio.to_thread(stop_thread, self._thread)
        self._health.down()

    # --- outbound (bot's loop; the SDK's sync calls run in worker threads) ---------------------------------

    async def post_message(self, *, chat_id: str, reply_to: str | None, msg_type: str, content: str) -> str | None:
        from lark_oapi.api.im.v1 import (
            CreateMessageRequest,
            CreateMessageRequestBody,
            ReplyMessageRequest,
            ReplyMessageRequestBody,
        )

        req: Any
        if reply_to:
            req = (
                ReplyMessageRequest.builder()
                .message_id(reply_to)
                .request_body(ReplyMessageRequestBody.builder().msg_type(msg_type).content(content).build())
                .build()
            )
            resp = await self._call(self._api.im.v1.message.reply, req)
        else:
            req = (
                CreateMessageRequest.builder()
                .receive_id_type("chat_id")
                .request_body(
                    CreateMessageRequestBody.builder().receive_id(chat_id).msg_type(msg_type).content(content).build()
                )
                .build()
            )
            resp = await self._call(self._api.im.v1.message.create, req)
        if not resp.success():
            raise FeishuApiError(f"send message: code {resp.code}: {resp.msg}")
        return str(resp.data.message_id) if resp.data is not None and resp.data.message_id else None

    async def patch_message(self, message_id: str, content: str) -> None:
        from lark_oapi.api.im.v1 import PatchMessageRequest, PatchMessageRequestBody

        req = (
            PatchMessageRequest.builder()
            .message_id(message_id)
            .request_body(PatchMessageRequestBody.builder().content(content).build())
            .build()
        )
        resp = await self._call(self._api.im.v1.message.patch, req)
        if not resp.success():
            raise FeishuApiError(f"update card: code {resp.code}: {resp.msg}")

    async def _call(self, method: Any, req: Any) -> Any:
        """Run one synchronous SDK call in a worker thread; on an invalid token, drop the cached one and retry once."""
        resp = await asyncio.to_thread(method, req)
        if resp.code in TOKEN_INVALID_CODES:
            self._forget_token()
            resp = await asyncio.to_thread(method, req)
        return resp

    def _forget_token(self) -> None:
        from lark_oapi.core.token.manager import TokenManager

        TokenManager.cache.set(f"self_tenant_token:{self._app_id}", "", 0)

    def _fetch_bot_open_id(self) -> str | None:
        """The bot's own open_id tells a mention of the bot from a mention of someone else in a group."""
        import lark_oapi as lark

        try:
            req = lark.BaseRequest.builder().http_method(lark.HttpMethod.GET).uri("/open-apis/bot/v3/info")
            req = req.token_types({lark.AccessTokenType.TENANT}).build()
            resp = self._api.request(req)
            if resp.code in TOKEN_INVALID_CODES:
                self._forget_token()
                resp = self._api.request(req)
            doc = json.loads(resp.raw.content) if resp.raw is not None else {}
            open_id = (doc.get("bot") or {}).get("open_id")
            if open_id:
                return str(open_id)
            log.warning("feishu: bot info has no open_id (%s); any @mention will count as addressing the bot", doc)
        except Exception as exc:  # noqa: BLE001 - best effort: the bot still works, only mention matching gets looser
            log.warning("feishu: could not read the bot's identity: %s", exc)
            self._health.down(f"bot info: {exc}")
        return None

    # --- ws thread ------------------------------------------------------------------------------------------

    def _run_ws(self) -> None:
        import lark_oapi as lark
        import lark_oapi.ws.client as ws_module

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        ws_module.loop = loop  # the SDK's module-global loop: point it at this thread's own
        self._ws_loop = loop
        adapter = self

        class Client(lark.ws.Client):
            async def _connect(self) -> None:
                await super()._connect()
                if self._conn is not None:
                    adapter._health.up()

            async def _disconnect(self) -> None:
                if self._conn is not None:
                    adapter._health.down(None if adapter._stopping.is_set() else "connection lost")
                await super()._disconnect()

        handler = (
            lark.EventDispatcherHandler.builder("", "")
            .register_p2_im_message_receive_v1(self._on_message)
            .register_p2_card_action_trigger(self._on_card)
            .build()
        )
        self._ws = Client(self._app_id, self._app_secret, event_handler=handler, domain=self._domain)
        try:
            self._ws.start()
        except RuntimeError:  # loop.stop() from _shutdown_ws: the normal way out
            pass
        except Exception as exc:  # credentials refused, or the SDK gave up reconnecting
            log.exception("feishu: long connection stopped")
            self._health.down(repr(exc))
        finally:
            close_sdk_loop(loop)

    async def _shutdown_ws(self) -> None:
        ws = self._ws
        if ws is not None:
            ws._auto_reconnect = False
            try:
                await ws._disconnect()
            except Exception:  # already gone
                log.debug("feishu: disconnect during shutdown failed", exc_info=True)
        asyncio.get_running_loop().stop()

    # --- frames -> events (ws thread; must return fast) ----------------------------------------------------

    def _remember_chat(self, chat_id: str, is_group: bool) -> None:
        self._chat_is_group[chat_id] = is_group
        self._chat_is_group.move_to_end(chat_id)
        while len(self._chat_is_group) > CHAT_CACHE_SIZE:
            self._chat_is_group.popitem(last=False)

    def _submit(self, event: InboundEvent, responder: FeishuResponder, slot: _CallbackSlot | None = None) -> None:
        assert self._bridge is not None

        async def hand_over() -> None:
            try:
                taken = await self.bot.dispatcher.submit(event, responder)
            except Exception:
                if slot is not None:
                    slot.seal()
                raise
            if not taken and slot is not None:
                slot.seal()  # a redelivered click: nothing will answer it, do not keep the callback waiting

        self._bridge.submit(hand_over())

    def _on_message(self, data: Any) -> None:
        ev = data.event
        msg, sender = ev.message, ev.sender
        if sender is not None and sender.sender_type == "app":
            return  # our own (or another bot's) message
        if msg is None or msg.message_type not in ("text", "post") or not msg.chat_id or not msg.message_id:
            return
        raw = message_text(msg.message_type, msg.content or "")
        if raw is None:
            return
        mentioned = False
        for m in msg.mentions or []:
            key = m.key or ""
            is_bot = self._bot_open_id is None or (m.id is not None and m.id.open_id == self._bot_open_id)
            mentioned = mentioned or is_bot
            raw = raw.replace(key, "" if is_bot else f"@{m.name or ''}") if key else raw
        raw = re.sub(r"[ \t]{2,}", " ", raw)  # where a mention was cut out
        is_group = msg.chat_type != "p2p"
        self._remember_chat(msg.chat_id, is_group)
        text = addressed_text(raw, is_group=is_group, mentioned=mentioned)
        if text is None:
            return
        sid = sender.sender_id if sender is not None else None
        user_id = (sid.open_id or sid.user_id or "") if sid is not None else ""
        if not user_id:
            return
        event = MessageEvent(
            event_id=msg.message_id,
            conversation=Conversation(Platform.FEISHU, msg.chat_id, is_group=is_group),
            sender=Sender(user_id),
            text=text,
            mentioned=mentioned or not is_group,
            received_at=time.time(),
        )
        self._submit(event, FeishuResponder(adapter=self, event=event, reply_to=msg.message_id))

    def _on_card(self, data: Any) -> Any:
        from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

        ev = data.event
        payload = button_payload(ev.action.value if ev.action is not None else None)
        chat_id = ev.context.open_chat_id if ev.context is not None else None
        message_id = ev.context.open_message_id if ev.context is not None else None
        user_id = (ev.operator.open_id or ev.operator.user_id) if ev.operator is not None else None
        event_id = data.header.event_id if data.header is not None else None
        if payload is None or not chat_id or not user_id or not event_id:
            log.warning("feishu: card callback without our button payload; ignored")
            return P2CardActionTriggerResponse({})
        event = CardActionEvent(
            event_id=event_id,
            conversation=Conversation(Platform.FEISHU, chat_id, is_group=self._chat_is_group.get(chat_id, True)),
            sender=Sender(user_id),
            payload=payload,
            message_ref=message_id,
            form={str(k): str(v) for k, v in (ev.action.form_value or {}).items()} if ev.action else {},
            received_at=time.time(),
        )
        slot = _CallbackSlot(message_id, self._budget)
        self._submit(event, FeishuResponder(adapter=self, event=event, slot=slot), slot)
        slot.wait()
        answer: dict[str, Any] = {}
        if slot.toast is not None:
            answer["toast"] = {"type": "info", "content": slot.toast}
        if slot.card is not None:
            answer["card"] = {"type": "raw", "data": slot.card}
        return P2CardActionTriggerResponse(answer)
