"""DingTalk streaming answers on an AI card (AI 卡片), the flow of the SDK's `AICardReplier` (0.24.3,
dingtalk_stream/card_replier.py) over our async `DingTalkApi`:
1. `POST /v1.0/card/instances/createAndDeliver` from the AI card template (DINGTALK_AI_CARD_TEMPLATE_ID) with
   `flowStatus` "1" (PROCESSING) among the public data;
2. `PUT /v1.0/card/streaming` {outTrackId, guid, key: "markdown", content: the FULL text, isFull: true,
   isFinalize: false, isError: false} as the text grows;
3. the last streaming call with `isFinalize: true` (`isError: true` on failure), then `PUT /v1.0/card/instances`
   with the final public data (title, text, buttons) and `flowStatus` "3" FINISHED or "5" FAILED.
A streamed card is ALWAYS finalised: `close` and `fail` both end it, and the conversation engine calls one of
them in a `finally`. Limits respected: >= 800 ms between two updates of one card (we keep `STREAM_INTERVAL`
after the previous update COMPLETED, finalisation included), AI-card streaming 50 QPS per robot (a shared
`RateWindow` of 40/s), card updates ~20 QPS per tenant (`update_window`, 16/s, shared with every other card
update of the app). Sources: landscape.md "Platform conventions"; open.dingtalk.com AI card docs.

The template: the variables of the message card template (README "DingTalk: the card template": title,
markdown, footer, lastMessage, buttons) with `markdown` bound to the AI card's streaming text, plus `flowStatus`.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

from bot.channels.dingtalk.api import DingTalkApi
from bot.channels.streaming import NativeStream, RateWindow
from bot.core.cards import Card, Markdown, Tone
from bot.core.i18n import Lang, tr
from bot.core.responder import stream_tail
from bot.render.escape import DINGTALK, light

STREAM_KEY = "markdown"
STREAM_INTERVAL = 0.9  # s after the previous update COMPLETED (so >= 0.9 s between arrivals); DingTalk: >= 0.8 s
ROBOT_PER_SECOND = 40  # of 50 QPS per robot for streaming
PROCESSING, FINISHED, FAILED = "1", "3", "5"  # AICardStatus


def robot_window() -> RateWindow:
    return RateWindow(per_second=ROBOT_PER_SECOND)


# `PUT /v1.0/card/instances` is limited per tenant (~20 QPS, 403 QpsLimit; landscape.md, and the DingTalk team's
# hermes-agent PR #17365). Every card update of one app goes through one window, whichever responder sends it: one
# per `DingTalkApi` (one per adapter), kept only as long as that client lives.
TENANT_UPDATES_PER_SECOND = 16
_update_windows: weakref.WeakKeyDictionary[DingTalkApi, RateWindow] = weakref.WeakKeyDictionary()


def update_window(api: DingTalkApi) -> RateWindow:
    window = _update_windows.get(api)
    if window is None:
        window = _update_windows[api] = RateWindow(per_second=TENANT_UPDATES_PER_SECOND)
    return window


def escaped(text: str) -> str:
    """Streamed text passes the same escaping as a card's `Markdown` block."""
    return light(stream_tail(text), DINGTALK)


class AICardStream(NativeStream):
    """`CardStream` on DingTalk. `render` gives a Card's `cardParamMap` (the responder's signer, chat, language);
    `send_plain` posts an ordinary card when nothing was streamed."""

    def __init__(
        self,
        api: DingTalkApi,
        window: RateWindow,
        *,
        template_id: str,
        title: str,
        lang: Lang,
        conversation_id: str | None,
        user_id: str | None,
        render: Callable[[Card], dict[str, str]],
        send_plain: Callable[[Card], Awaitable[str | None]],
        interval: float = STREAM_INTERVAL,
    ) -> None:
        super().__init__(interval=interval, window=window)
        self._api = api
        self._template_id = template_id
        self._title = title
        self._lang = lang
        self._conversation_id = conversation_id
        self._user_id = user_id
        self._render = render
        self._send_plain_card = send_plain

    async def _open(self, text: str) -> str | None:
        data = self._render(Card(title=self._title, blocks=(Markdown(text),)))
        data["flowStatus"] = PROCESSING
        return await self._api.send_card(
            self._template_id, data, conversation_id=self._conversation_id, user_id=self._user_id
        )

    async def _put(self, text: str) -> None:
        assert self._ref is not None
        await self._api.stream_card(self._ref, STREAM_KEY, escaped(text))

    async def _end(self, card: Card, status: str) -> None:
        assert self._ref is not None
        data = self._render(card)
        failed = status == FAILED
        try:
            await self._paced()
            async with self._window.slot():
                await self._api.stream_card(
                    self._ref, STREAM_KEY, data.get("markdown", ""), finalize=True, error=failed
                )
        finally:  # the final data (buttons, FINISHED/FAILED) goes out even when the last streaming call failed
            self._completed()
            await self._paced()
            try:
                async with self._window.slot(), update_window(self._api).slot():
                    await self._api.update_card(self._ref, {**data, "flowStatus": status})
            finally:
                self._completed()

    async def _finish(self, card: Card) -> None:
        await self._end(card, FINISHED)

    async def _abort(self, text: str) -> None:
        failed = Card(title=tr(self._lang, "出错了", "Failed"), blocks=(Markdown(text),), tone=Tone.DANGER)
        await self._end(failed, FAILED)

    async def _send_plain(self, card: Card) -> str | None:
        return await self._send_plain_card(card)
