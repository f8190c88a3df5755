"""Feishu / Lark long-connection adapter: the only importer of `lark_oapi`.

`lark_oapi.ws.Client` runs on a module-global event loop and `start()` blocks on it, so it gets a thread and
a fresh loop of its own. Its event handlers are synchronous on that loop, and while one runs the SDK reads no
other frame: so no handler ever waits on the bot. Messages are handed to the bot's loop at once; a card click
is answered at once from what is at hand (a refusal for a bad button, else a "working on it" toast) and the
bot updates the card later by PATCH. One busy or hostile conversation cannot hold the connection for others.
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

from bot.channels.charts import ChartImages
from bot.channels.common import (
    BotLike,
    Health,
    LoopBridge,
    addressed_text,
    close_sdk_loop,
    has_lone_surrogate,
    invalid_input_text,
    reply_lang,
    stop_thread,
)
from bot.channels.feishu.cardkit import CardKit, CardKitStream
from bot.channels.feishu.escalate import upload_image
from bot.channels.feishu.refit import send_refitted
from bot.channels.people import People
from bot.core.actions import InvalidPayload, refusal_text
from bot.core.events import CardActionEvent, Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.i18n import Lang, detect_lang, tr
from bot.core.responder import CardStream, EditStream
from bot.render.escape import plain_im
from bot.render.feishu import MAX_CARD_BYTES, button_lang, button_payload, card_content, render_feishu
from bot.render.model import Card, bound_text

log = logging.getLogger(__name__)

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


class FeishuResponder:
    """`Responder` for one Feishu event: replies to the user's message, creates cards in the chat after a
    click, updates in place (callback answer or PATCH), toasts natively while the callback is open."""

    def __init__(
        self,
        *,
        adapter: FeishuAdapter,
        event: InboundEvent,
        reply_to: str | None = None,
        lang: Lang | None = None,
    ) -> None:
        self._adapter = adapter
        self._conversation = event.conversation
        self._lang = lang or reply_lang(event)
        self._reply_to = reply_to

    def _render(self, card: Card, max_bytes: int = MAX_CARD_BYTES) -> dict[str, Any]:
        chat_key = self._conversation.chat_key
        codec = self._adapter.bot.codec
        return render_feishu(
            card, sign=lambda action: codec.encode(action, chat_key), lang=self._lang, max_bytes=max_bytes
        )

    async def send(self, card: Card) -> str | None:
        card = await self._adapter.charts.attach(card)  # chart blocks -> uploaded images (sparklines on failure)
        content = card_content(self._render(card))  # sized on the wire by render_feishu

        async def post(content: str) -> str | None:
            return await self._adapter.post_message(
                chat_id=self._conversation.chat_id, reply_to=self._reply_to, msg_type="interactive", content=content
            )

        # refused for size anyway: sent again smaller, with its truncated marker (refit.py)
        return await send_refitted(post, content, lambda n: card_content(self._render(card, n)))

    async def update(self, ref: str, card: Card) -> None:
        card = await self._adapter.charts.attach(card)
        doc = self._render(card)
        kit = self._adapter.cardkit
        if kit is not None and await kit.update_entity(ref, doc):  # a streamed card: CardKit, not PATCH
            return
        await send_refitted(
            lambda c: self._adapter.patch_message(ref, c),
            card_content(doc),
            lambda n: card_content(self._render(card, n)),
        )

    async def stream(self, title: str, *, lang: Lang) -> CardStream:
        """A CardKit streaming card (`bot.channels.feishu.cardkit`); `Responder.update`-able by its message id."""
        kit = self._adapter.cardkit
        if kit is None or not kit.usable:  # not started, or CardKit refused us lately (scope not granted?)
            return EditStream(self, title, lang=lang)
        chat_id, reply_to = self._conversation.chat_id, self._reply_to

        async def send(content: str) -> str | None:
            return await self._adapter.post_message(
                chat_id=chat_id, reply_to=reply_to, msg_type="interactive", content=content
            )

        return CardKitStream(kit, title=title, lang=lang, render=self._render, send=send)

    async def toast(self, text: str) -> None:
        # The click's own callback was answered already: a toast from the bot is a short text message.
        await self._adapter.post_text(self._conversation.chat_id, text, self._lang)


class FeishuAdapter:
    platform = Platform.FEISHU

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        domain: str,
        bot: BotLike,
        api_timeout: float = 10.0,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._domain = domain.rstrip("/")
        self.bot = bot
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
        # ... nor the user's language: the last message in the chat does, for answering a click at once.
        self._chat_lang: dict[str, Lang] = {}
        # display names for cards: the contact API once per person, cached in Redis (`bot.store` if the bot has one)
        self._people = People(Platform.FEISHU, getattr(bot, "store", None), self._contact_name)
        self.charts = ChartImages(lambda png: upload_image(self, png), platform="feishu")
        self.cardkit: CardKit | None = None  # streaming cards, once the API client exists

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
        self.cardkit = CardKit(self._api, self._call, getattr(self.bot, "store", None))
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

    async def post_text(self, chat_id: str, text: str, lang: Lang) -> None:
        """A plain text message; `text` may echo names or user input, so tags (`<at ...>`) are broken first."""
        body, _ = bound_text(plain_im(text), TEXT_LIMIT, tr(lang, "…（已截断）", "… (truncated)"))
        content = json.dumps({"text": body}, ensure_ascii=False)
        await self.post_message(chat_id=chat_id, reply_to=None, msg_type="text", content=content)

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

    async def _contact_name(self, open_id: str) -> str | None:
        """The person's name from the contact API (needs the app's contact read scope; None when not granted)."""
        from lark_oapi.api.contact.v3 import GetUserRequest

        req = GetUserRequest.builder().user_id(open_id).user_id_type("open_id").build()
        resp = await self._call(self._api.contact.v3.user.get, req)
        if not resp.success() or resp.data is None or resp.data.user is None:
            log.info("feishu: no contact name for %s: code %s %s", open_id, resp.code, resp.msg)
            return None
        return str(resp.data.user.name or "") or None

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

    def _remember_chat(self, chat_id: str, is_group: bool, lang: Lang) -> None:
        self._chat_is_group[chat_id] = is_group
        self._chat_is_group.move_to_end(chat_id)
        self._chat_lang[chat_id] = lang
        while len(self._chat_is_group) > CHAT_CACHE_SIZE:
            old, _ = self._chat_is_group.popitem(last=False)
            self._chat_lang.pop(old, None)

    def _submit(self, event: InboundEvent, responder: FeishuResponder) -> None:
        assert self._bridge is not None
        self._bridge.submit(self._named_submit(event, responder))

    async def _named_submit(self, event: InboundEvent, responder: FeishuResponder) -> None:
        # the name first, so the first card that names this person already shows it (bounded by LOOKUP_TIMEOUT)
        try:
            await self._people.learn(event.sender.user_id)
        except Exception:  # a name is a nicety; the event is not
            log.warning("feishu: resolving a display name failed", exc_info=True)
        await self.bot.dispatcher.submit(event, responder)

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
        lang = detect_lang(raw[:200], Lang.ZH)
        self._remember_chat(msg.chat_id, is_group, lang)
        text = addressed_text(raw, is_group=is_group, mentioned=mentioned)
        if text is None:
            return
        if has_lone_surrogate(text, msg.chat_id, msg.message_id):
            assert self._bridge is not None
            self._bridge.submit(self.post_text(msg.chat_id, invalid_input_text(lang), lang))
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
        """Answered at once, never after waiting on the bot (see the module docstring)."""
        from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

        ev = data.event
        value = ev.action.value if ev.action is not None else None
        payload = button_payload(value)
        chat_id = ev.context.open_chat_id if ev.context is not None else None
        message_id = ev.context.open_message_id if ev.context is not None else None
        user_id = (ev.operator.open_id or ev.operator.user_id) if ev.operator is not None else None
        event_id = data.header.event_id if data.header is not None else None
        if payload is None or not chat_id or not user_id or not event_id:
            log.warning("feishu: card callback without our button payload; ignored")
            return P2CardActionTriggerResponse({})
        # the clicked card's own language: an English card clicked in a chat that since spoke Chinese stays English
        lang = button_lang(value) or self._chat_lang.get(chat_id, Lang.ZH)
        if has_lone_surrogate(payload, chat_id, user_id, event_id, message_id or ""):
            return P2CardActionTriggerResponse(_toast("error", invalid_input_text(lang, button=True)))
        conversation = Conversation(Platform.FEISHU, chat_id, is_group=self._chat_is_group.get(chat_id, True))
        try:  # pure and cheap: a forged, foreign or expired button is refused here, in the callback's answer
            self.bot.codec.decode(payload, conversation.chat_key)
        except InvalidPayload as exc:
            return P2CardActionTriggerResponse(_toast("error", refusal_text(lang, exc.reason)))
        event = CardActionEvent(
            event_id=event_id,
            conversation=conversation,
            sender=Sender(user_id),
            payload=payload,
            message_ref=message_id,
            form={str(k): str(v) for k, v in (ev.action.form_value or {}).items()} if ev.action else {},
            received_at=time.time(),
            lang=button_lang(value),
        )
        self._submit(event, FeishuResponder(adapter=self, event=event, lang=lang))
        return P2CardActionTriggerResponse(_toast("info", tr(lang, "处理中…", "Working on it…")))


def _toast(kind: str, text: str) -> dict[str, Any]:
    return {"toast": {"type": kind, "content": text}}
