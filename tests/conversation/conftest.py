"""A chat harness: the real engine behind the real dispatcher, real Redis (`store`), the sandbox over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.app import Bot, build_bot
from bot.approvals.port import ReadOnlyGate
from bot.core.events import CardActionEvent, Conversation, MessageEvent, Platform, Sender
from bot.render.model import Button, Card
from bot.render.text import render_card
from bot.settings import load_settings
from bot.store import Store
from tools.sandbox import SandboxHandle


@dataclass
class Recorder:
    """A responder that keeps what the bot said."""

    cards: list[Card] = field(default_factory=list)
    toasts: list[str] = field(default_factory=list)
    updates: list[tuple[str, Card]] = field(default_factory=list)

    async def send(self, card: Card) -> str | None:
        self.cards.append(card)
        return f"ref-{len(self.cards)}"

    async def update(self, ref: str, card: Card) -> None:
        self.updates.append((ref, card))
        self.cards.append(card)

    async def toast(self, text: str) -> None:
        self.toasts.append(text)


@dataclass
class Chat:
    """One user in one chat, talking to the bot through the dispatcher."""

    bot: Bot
    conversation: Conversation
    sender: Sender
    out: Recorder = field(default_factory=Recorder)

    async def say(self, text: str) -> Card:
        before = len(self.out.cards)
        event = MessageEvent(uuid.uuid4().hex, self.conversation, self.sender, text)
        assert await self.bot.dispatcher.submit(event, self.out)
        await self.bot.dispatcher.drain()
        assert len(self.out.cards) > before, f"no reply to {text!r}"
        return self.out.cards[-1]

    def button(self, label_part: str, card: Card | None = None) -> Button:
        card = card or self.last_with_buttons()
        found = [b for b in card.buttons if label_part in b.label]
        assert found, f"no button with {label_part!r} in {[b.label for b in card.buttons]}"
        return found[0]

    def last_with_buttons(self) -> Card:
        for card in reversed(self.out.cards):
            if card.buttons:
                return card
        raise AssertionError("no card with buttons")

    async def press(self, label_part: str, *, payload: str | None = None) -> Card:
        if payload is None:
            payload = self.bot.codec.encode(self.button(label_part).action, self.conversation.chat_key)
        before = len(self.out.cards) + len(self.out.toasts)
        event = CardActionEvent(uuid.uuid4().hex, self.conversation, self.sender, payload)
        assert await self.bot.dispatcher.submit(event, self.out)
        await self.bot.dispatcher.drain()
        assert len(self.out.cards) + len(self.out.toasts) > before, "no reaction to the press"
        return self.out.cards[-1]

    def text(self, card: Card | None = None) -> str:
        return render_card(card or self.out.cards[-1])


@pytest.fixture
async def bot(store: Store, sandbox: SandboxHandle) -> AsyncIterator[Bot]:
    settings = load_settings(kubeconfig=str(sandbox.kubeconfig_path), kube_context="sandbox", kube_timeout_seconds=3.0)
    b = build_bot(settings, store=store, gate=ReadOnlyGate(), progress_after=0)
    await b.start()
    try:
        yield b
    finally:
        await b.close()


def make_chat(bot: Bot, user: str = "u1", chat: str = "c1", *, group: bool = False) -> Chat:
    return Chat(bot, Conversation(Platform.CONSOLE, chat, is_group=group), Sender(user, user))


@pytest.fixture
def chat(bot: Bot) -> Chat:
    return make_chat(bot)
