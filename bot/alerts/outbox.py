"""Posting into a chat nobody wrote in: a `Responder` for a chat key, built on the running platform adapters.

The adapters make responders for the event they handle; an alert has no event, so we make a synthetic one
naming the chat. The DingTalk responder needs the adapter's API client and template id, which it does not expose
publicly yet (asked of the channel owners: an `adapter.responder_for(conversation, lang)` would replace this).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from bot.core.cards import Card, Mention
from bot.core.events import Conversation, MessageEvent, Platform, Sender
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.render.mentions import is_urgent, urgent_people

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
        self.escalations: deque[tuple[str, str]] = deque(maxlen=100)  # (ok | failed, incident), newest last
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

            inner: Responder = FeishuResponder(adapter=adapter, event=event)
            return EscalatingResponder(inner, feishu_escalation(adapter), self.escalations)
        if platform is Platform.DINGTALK:
            from bot.channels.dingtalk.adapter import DingTalkResponder, _Target

            inner = DingTalkResponder(
                api=adapter._api,
                bot=adapter._bot,
                target=_Target(event.conversation, ""),
                event=event,
                template_id=adapter._template_id,
            )
            return EscalatingResponder(inner, dingtalk_escalation(adapter), self.escalations)
        return None


Escalate = Callable[[str | None, Card], Awaitable[None]]


class EscalatingResponder:
    """The platform's responder, plus the severity policy's escalation: when a card with an urgent mention (P0) is
    first SENT, the platform's strongest reminder goes to the mentioned people. Updates never escalate, and the
    alert service sends a group's card once per chat, so a group escalates once, however often it repeats. A failed
    escalation is logged and counted, never fails the card (the @all in it already notified the chat)."""

    def __init__(self, inner: Responder, escalate: Escalate, record: deque[tuple[str, str]] | None = None) -> None:
        self._inner = inner
        self._escalate = escalate
        self._record = record if record is not None else deque(maxlen=1)

    async def send(self, card: Card) -> str | None:
        from bot.channels.dingtalk.api import DingTalkApiError
        from bot.channels.feishu.adapter import FeishuApiError

        try:
            ref = await self._inner.send(card)
        except (FeishuApiError, DingTalkApiError):
            # The platform refused the card (a group can forbid @all to bots, or the app lacks the scope): the
            # alert must still arrive, so it goes again with "@all" as plain text; the urgent escalation below
            # still notifies the on-call people. Timeouts and outages are not retried here (Alertmanager retries).
            fallback = without_everyone(card)
            if fallback is card:
                raise
            log.warning("alerts: card with @all refused; sending it without", exc_info=True)
            ref = await self._inner.send(fallback)
        if is_urgent(card):
            try:
                await self._escalate(ref, card)
                self._record.append(("ok", card.meta.get("incident", "")))
            except Exception:  # quota, permission or edition: the card went out, so log it and carry on
                log.warning("alerts: urgent escalation of %s failed", card.meta.get("incident"), exc_info=True)
                self._record.append(("failed", card.meta.get("incident", "")))
        return ref

    async def update(self, ref: str, card: Card) -> None:
        await self._inner.update(ref, card)

    async def toast(self, text: str) -> None:
        await self._inner.toast(text)


def escalation_of(outbox: Outbox | None, incident: str) -> str | None:
    """How the newest urgent escalation of `incident` went ("ok" | "failed"), for its timeline; None if none."""
    if not isinstance(outbox, ChannelOutbox):
        return None
    return next((outcome for outcome, inc in reversed(outbox.escalations) if inc == incident), None)


def without_everyone(card: Card) -> Card:
    """`card` with its @all mentions turned into visible text (the same card when it has none)."""
    if not any(isinstance(b, Mention) and b.everyone for b in card.blocks):
        return card
    everyone = tr(Lang.EN if card.meta.get("lang") == "en" else Lang.ZH, "@所有人", "@all")
    blocks = tuple(
        replace(b, everyone=False, text=f"{everyone} {b.text}".strip()) if isinstance(b, Mention) and b.everyone else b
        for b in card.blocks
    )
    return replace(card, blocks=blocks)


def _reminder_text(card: Card) -> str:
    return f"KubeDuty {card.title}"


def feishu_escalation(adapter: Any) -> Escalate:
    """Feishu: `urgent_app` (in-app 加急) of the card message to the mentioned people of this platform."""

    async def escalate(ref: str | None, card: Card) -> None:
        from bot.channels.feishu.escalate import urgent_app

        people = [user for user, _ in urgent_people(card, "feishu")]
        if ref and people:
            await urgent_app(adapter, ref, people)

    return escalate


def dingtalk_escalation(adapter: Any) -> Escalate:
    """DingTalk: an in-app DING from the robot to the mentioned people (the card's @all went with the delivery)."""

    async def escalate(ref: str | None, card: Card) -> None:
        from bot.channels.dingtalk.media import send_ding

        people = [user for user, _ in urgent_people(card, "dingtalk")]
        if people:
            await send_ding(adapter._api, people, _reminder_text(card))

    return escalate
