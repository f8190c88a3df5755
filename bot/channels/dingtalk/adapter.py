"""DingTalk Stream adapter: the only importer of `dingtalk_stream`.

The SDK runs in a thread of its own with its own event loop: it makes blocking HTTP calls inside that loop
(ticket, token) and has no stop(). Frames are turned into typed events there, acked at once, and handed to
the bot's loop; replies are made from the bot's loop through `DingTalkApi` (async, with timeouts).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
from bot.channels.dingtalk.aicard import AICardStream, robot_window
from bot.channels.dingtalk.api import DingTalkApi
from bot.channels.dingtalk.delivery import CardDelivery, CodeNotice, Where, button_lang, typed_click
from bot.channels.dingtalk.media import charts_for
from bot.channels.people import People
from bot.channels.streaming import RateWindow
from bot.core.actions import Action
from bot.core.events import CardActionEvent, Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.i18n import Lang, detect_lang
from bot.core.responder import CardStream, EditStream
from bot.render.dingtalk import button_params, render_dingtalk
from bot.render.model import Card

log = logging.getLogger(__name__)

MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"
CARD_CALLBACK_TOPIC = "/v1.0/card/instances/callback"
DEFAULT_ENDPOINT = "https://api.dingtalk.com"


@dataclass(frozen=True, slots=True)
class _Target:
    """Where replies for one event go: the group, or the user of a 1:1 chat."""

    conversation: Conversation
    user_id: str

    @property
    def group_id(self) -> str | None:
        return self.conversation.chat_id if self.conversation.is_group else None

    @property
    def dm_user(self) -> str | None:
        return None if self.conversation.is_group else self.user_id


class DingTalkResponder:
    """`Responder` for one DingTalk event. Cards are advanced message cards made from the configured template,
    updated in place by their outTrackId. Without a template (DINGTALK_CARD_TEMPLATE_ID unset) replies are robot
    markdown messages whose buttons are typed replies (a number, a code), and an "update" is a new message; both
    modes live in `bot.channels.dingtalk.delivery`. DingTalk cards have no
    toast, so a toast is a short text message in the same chat."""

    def __init__(
        self,
        *,
        api: DingTalkApi,
        bot: BotLike,
        target: _Target,
        event: InboundEvent,
        template_id: str | None,
        ai_template_id: str | None = None,
        stream_window: RateWindow | None = None,
    ) -> None:
        self._ai_template_id = ai_template_id
        self._stream_window = stream_window or robot_window()
        self._api = api
        self._bot = bot
        self._target = target
        self._lang = reply_lang(event)
        self._template_id = template_id

    def _render(self, card: Card) -> dict[str, str]:
        chat_key = self._target.conversation.chat_key
        return render_dingtalk(
            card,
            sign=lambda action: self._bot.codec.encode(action, chat_key),
            conversation_id=self._target.conversation.chat_id,
            is_group=self._target.conversation.is_group,
            lang=self._lang,
        )

    async def send(self, card: Card) -> str | None:
        card = await charts_for(self._api).attach(card)  # chart blocks -> uploaded images (sparklines on failure)
        return await self._delivery().send(card, *self._where())

    async def update(self, ref: str, card: Card) -> None:
        card = await charts_for(self._api).attach(card)
        await self._delivery().update(ref, card, *self._where())

    def _delivery(self) -> CardDelivery:
        # per-user buttons (privateData) and, without a template, numbered replies: bot.channels.dingtalk.delivery
        return CardDelivery(api=self._api, store=getattr(self._bot, "store", None), template_id=self._template_id)

    def _where(self) -> tuple[Where, Callable[[Action], str], Lang]:
        c, chat_key = self._target.conversation, self._target.conversation.chat_key
        sign: Callable[[Action], str] = lambda action: self._bot.codec.encode(action, chat_key)  # noqa: E731
        return Where(chat_key, c.chat_id, c.is_group, self._target.user_id), sign, self._lang

    async def toast(self, text: str) -> None:
        await self._api.send_text(text, conversation_id=self._target.group_id, user_id=self._target.dm_user)

    async def stream(self, title: str, *, lang: Lang) -> CardStream:
        """An AI card (`bot.channels.dingtalk.aicard`) when its template is configured, else edits of a card."""
        if self._ai_template_id is None or self._template_id is None:
            return EditStream(self, title, lang=lang)
        return AICardStream(
            self._api,
            self._stream_window,
            template_id=self._ai_template_id,
            title=title,
            lang=lang,
            conversation_id=self._target.group_id,
            user_id=self._target.dm_user,
            render=self._render,
            send_plain=self.send,
        )


def _import_sdk(endpoint: str) -> Any:
    """Import the SDK with its OpenAPI base set: it reads DINGTALK_OPENAPI_ENDPOINT once at import and bakes
    it into module and class attributes, so those are re-pointed too (a second adapter in one process)."""
    os.environ["DINGTALK_OPENAPI_ENDPOINT"] = endpoint
    import dingtalk_stream
    from dingtalk_stream import card_replier, chatbot, stream

    for module in (stream, chatbot, card_replier):
        module.DINGTALK_OPENAPI_ENDPOINT = endpoint
    dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API = endpoint + "/v1.0/gateway/connections/open"
    return dingtalk_stream


class DingTalkAdapter:
    platform = Platform.DINGTALK

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        endpoint: str | None,
        bot: BotLike,
        card_template_id: str | None = None,
        ai_card_template_id: str | None = None,
    ) -> None:
        self._ai_template_id = ai_card_template_id or None
        self._stream_window = robot_window()  # AI-card streaming: 50 QPS per robot, shared by its cards
        self._client_id = client_id
        self._template_id = card_template_id or None
        self._client_secret = client_secret
        self._endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._bot = bot
        self._health = Health("dingtalk")
        self._api = DingTalkApi(base_url=self._endpoint, client_id=client_id, client_secret=client_secret)
        self._bridge: LoopBridge | None = None
        self._thread: threading.Thread | None = None
        self._sdk_loop: asyncio.AbstractEventLoop | None = None
        self._sdk_task: asyncio.Task[Any] | None = None
        self._sdk_client: Any = None
        self._stopping = threading.Event()
        # display names for cards: the sender's nick of each message, cached in Redis for card clicks (no nick)
        self._people = People(Platform.DINGTALK, getattr(bot, "store", None))

    @property
    def health(self) -> Health:
        return self._health

    async def start(self) -> None:
        self._bridge = LoopBridge(asyncio.get_running_loop(), "dingtalk")
        if self._template_id is None:
            log.warning(
                "dingtalk: DINGTALK_CARD_TEMPLATE_ID is not set; replies are markdown messages, buttons become typed "
                "numbers and codes (see README, DingTalk: the card template)"
            )
        sdk = _import_sdk(self._endpoint)
        self._sdk_client = self._make_client(sdk)
        self._thread = threading.Thread(target=self._run_sdk, name="dingtalk-stream", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        loop = self._sdk_loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._cancel_sdk)
            except RuntimeError:  # the loop closed in between
                pass
        await asyncio.to_thread(stop_thread, self._thread)
        await self._api.close()
        self._health.down()

    # --- SDK thread ---------------------------------------------------------------------------------------

    def _run_sdk(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._sdk_loop = loop
        try:
            self._sdk_task = loop.create_task(self._sdk_client.start())
            loop.run_until_complete(self._sdk_task)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # the SDK gave up: visible in health and logs, the process keeps serving others
            log.exception("dingtalk: stream client stopped")
            self._health.down(repr(exc))
        finally:
            close_sdk_loop(loop)

    def _cancel_sdk(self) -> None:
        # The SDK swallows the first cancel (it sleeps and retries), so keep cancelling until it is done.
        task = self._sdk_task
        ws = getattr(self._sdk_client, "websocket", None)
        if ws is not None:
            asyncio.ensure_future(ws.close())
        if task is not None and not task.done():
            task.cancel()
            asyncio.get_running_loop().call_later(0.05, self._cancel_sdk)

    def _make_client(self, sdk: Any) -> Any:
        adapter = self

        class Client(sdk.DingTalkStreamClient):
            def open_connection(self) -> Any:
                if adapter._stopping.is_set():
                    raise asyncio.CancelledError
                result = super().open_connection()
                if not result:
                    adapter._health.down("open connection failed (credentials or endpoint?)")
                return result

            async def keepalive(self, ws: Any, ping_interval: int = 60) -> None:
                # Called right after the websocket opened: the one hook the SDK gives for "connected".
                adapter._health.up()
                closed = asyncio.ensure_future(ws.wait_closed())
                closed.add_done_callback(
                    lambda _f: adapter._health.down(None if adapter._stopping.is_set() else f"closed ({ws.close_code})")
                )
                await super().keepalive(ws, ping_interval)

        class Messages(sdk.ChatbotHandler):
            async def process(self, callback: Any) -> tuple[int, str]:
                adapter._on_message(callback.data if isinstance(callback.data, dict) else {}, callback.headers)
                return int(sdk.AckMessage.STATUS_OK), "OK"

        class Cards(sdk.CallbackHandler):
            async def process(self, callback: Any) -> tuple[int, dict[str, Any]]:
                adapter._on_card(callback.data if isinstance(callback.data, dict) else {}, callback.headers)
                return int(sdk.AckMessage.STATUS_OK), {}

        client = Client(
            sdk.Credential(self._client_id, self._client_secret), logger=logging.getLogger("dingtalk_stream.client")
        )
        client.register_callback_handler(MESSAGE_TOPIC, Messages())
        client.register_callback_handler(CARD_CALLBACK_TOPIC, Cards())
        return client

    # --- frames -> events (SDK thread; must return fast) ----------------------------------------------------

    def _hand_over(self, event: InboundEvent, target: _Target) -> None:
        assert self._bridge is not None
        responder = DingTalkResponder(
            api=self._api,
            bot=self._bot,
            target=target,
            event=event,
            template_id=self._template_id,
            ai_template_id=self._ai_template_id,
            stream_window=self._stream_window,
        )
        self._bridge.submit(self._named_submit(event, responder))

    async def _named_submit(self, event: InboundEvent, responder: DingTalkResponder) -> None:
        try:
            await self._people.learn(event.sender.user_id, event.sender.name)
        except Exception:  # a name is a nicety; the event is not
            log.warning("dingtalk: remembering a display name failed", exc_info=True)
        if self._template_id is None:  # markdown mode: "2" / "K7Q2" typed for a listed button is its click
            clicked = await typed_click(event, getattr(self._bot, "store", None))
            if clicked is None or isinstance(clicked, CodeNotice):  # an unusable code: a reason, nothing runs
                if clicked is not None:
                    await responder.toast(clicked.text)
                return
            if isinstance(clicked, CardActionEvent):
                event, responder._lang = clicked, clicked.lang or responder._lang
        await self._bot.dispatcher.submit(event, responder)

    def _on_message(self, data: dict[str, Any], headers: Any) -> None:
        if data.get("msgtype") != "text":
            log.info("dingtalk: ignoring a %s message", data.get("msgtype"))
            return
        is_group = str(data.get("conversationType")) == "2"
        content = data.get("text") or {}
        raw = str(content.get("content", "")) if isinstance(content, dict) else ""
        text = addressed_text(raw, is_group=is_group, mentioned=bool(data.get("isInAtList")))
        if text is None:
            return
        # The staff id is the identity policy files name, and the one card clicks carry (cards are created with
        # userIdType 1). A sender without one (an external contact) gets a namespaced id that can never equal a
        # staff id, so it cannot collide with, or stand in for, an organisation member.
        staff = str(data.get("senderStaffId") or "")
        sender = str(data.get("senderId") or "")
        user_id = staff or (f"ext-{sender}" if sender else "")
        msg_id = str(data.get("msgId") or getattr(headers, "message_id", "") or "")
        if not user_id or not msg_id or not data.get("conversationId"):
            log.warning("dingtalk: message without sender, id or conversation; ignored")
            return
        conversation = Conversation(Platform.DINGTALK, str(data["conversationId"]), is_group=is_group)
        if has_lone_surrogate(text, user_id, msg_id, conversation.chat_id):
            self._say(conversation, user_id, invalid_input_text(detect_lang(text[:200], Lang.ZH)))
            return
        event = MessageEvent(
            event_id=msg_id,
            conversation=conversation,
            sender=Sender(user_id, str(data.get("senderNick") or "")),
            text=text,
            mentioned=bool(data.get("isInAtList")) or not is_group,
            received_at=time.time(),
        )
        self._hand_over(event, _Target(conversation, user_id))

    def _say(self, conversation: Conversation, user_id: str, text: str) -> None:
        """A short text answer from the SDK thread, without the bot (refusals of unreadable input)."""
        assert self._bridge is not None
        target = _Target(conversation, user_id)
        self._bridge.submit(self._api.send_text(text, conversation_id=target.group_id, user_id=target.dm_user))

    def _refuse_click(self, conversation: Conversation, user_id: str) -> None:
        self._say(
            conversation,
            user_id,
            "只有本组织的成员可以使用卡片按钮。 / Only members of this organisation can use these buttons.",
        )

    def _on_card(self, data: dict[str, Any], headers: Any) -> None:
        # Card callback (https://open.dingtalk.com/document/orgapp/event-callback-card; SDK card_callback.py,
        # dingtalk-stream-sdk-go card/model.go): {userId, userIdType, outTrackId, spaceType, spaceId, corpId,
        # content: "<json>"} with content.cardPrivateData = {actionIds: [the button's actionId], params: {...}};
        # params are what our template binds to the clicked button (p, cid, g). It only reaches us because the
        # card was created with callbackType STREAM.
        content: Any = data.get("content")
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                content = None
        params = button_params(content)
        user_id = str(data.get("userId") or "")
        frame_id = str(getattr(headers, "message_id", "") or "")
        if params is None or not user_id or not frame_id or not params.get("cid"):
            log.warning("dingtalk: card callback without our button params; ignored")
            return
        conversation = Conversation(Platform.DINGTALK, params["cid"], is_group=params.get("g") == "1")
        if str(data.get("userIdType", "1")) != "1":
            # Only a staff id matches the identity a member has when messaging; any other id type (unionId) would
            # make the requester and the approver of a change look like two people. Refuse, visibly.
            log.warning("dingtalk: card click with userIdType %s refused", data.get("userIdType"))
            self._refuse_click(conversation, user_id)
            return
        if has_lone_surrogate(user_id, frame_id, *params.values()):
            self._say(conversation, user_id, invalid_input_text(Lang.ZH, button=True))
            return
        event = CardActionEvent(
            event_id=frame_id,
            conversation=conversation,
            sender=Sender(user_id),
            payload=params["p"],
            message_ref=str(data.get("outTrackId") or "") or None,
            received_at=time.time(),
            lang=button_lang(content),
        )
        self._hand_over(event, _Target(conversation, user_id))
