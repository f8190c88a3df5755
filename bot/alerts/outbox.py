"""Posting into a chat nobody wrote in: a `Responder` for a chat key, built on the running platform adapters.

The adapters make responders for the event they handle; an alert has no event, so we make a synthetic one
naming the chat. The DingTalk responder needs the adapter's API client and template id, which it does not expose
publicly yet (asked of the channel owners: an `adapter.responder_for(conversation, lang)` would replace this).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from bot.core.events import Conversation, MessageEvent, Platform, Sender
from bot.core.i18n import Lang
from bot.core.responder import Responder

log = logging.getLogger(__name__)


class Outbox(Protocol):
    def responder(self, chat_key: str, lang: Lang) -> Responder | None:
        """A responder posting into `chat_key` (`platform:chat_id`), or None if that platform is not connected."""


def split_chat(chat_key: str) -> tuple[Platform, str] | None:
    platform, _, chat_id = chat_key.partition(":")
    try:
        return Platform(platform), chat_id
    except ValueError:
        return None


def synthetic_event(platform: Platform, chat_id: str, lang: Lang) -> MessageEvent:
    return MessageEvent(
        event_id="alert",
        conversation=Conversation(platform, chat_id, is_group=True),
        sender=Sender("kubeduty-alerts"),
        text="",
        lang=lang,
    )


class ChannelOutbox:
    def __init__(self, adapters: Sequence[Any]) -> None:
        self._by_platform: dict[Platform, Any] = {}
        for adapter in adapters:
            platform = getattr(adapter, "platform", None)
            if isinstance(platform, Platform):
                self._by_platform[platform] = adapter

    @property
    def platforms(self) -> list[str]:
        return [p.value for p in self._by_platform]

    def responder(self, chat_key: str, lang: Lang) -> Responder | None:
        parsed = split_chat(chat_key)
        if parsed is None:
            return None
        platform, chat_id = parsed
        adapter = self._by_platform.get(platform)
        if adapter is None or not chat_id:
            return None
        event = synthetic_event(platform, chat_id, lang)
        if platform is Platform.FEISHU:
            from bot.channels.feishu.adapter import FeishuResponder

            return FeishuResponder(adapter=adapter, event=event)
        if platform is Platform.DINGTALK:
            from bot.channels.dingtalk.adapter import DingTalkResponder, _Target

            return DingTalkResponder(
                api=adapter._api,
                bot=adapter._bot,
                target=_Target(event.conversation, ""),
                event=event,
                template_id=adapter._template_id,
            )
        return None
