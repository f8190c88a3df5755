"""One event's handling context, shared by the engine and its helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.approvals.port import Caller
from bot.conversation.state import ConvState
from bot.core.cards import Card
from bot.core.i18n import Lang
from bot.core.responder import Responder


@dataclass
class Turn:
    """Everything one event's handling needs."""

    caller: Caller
    state: ConvState
    responder: Responder
    lang: Lang
    notes: list[str] = field(default_factory=list)  # said before the next card (e.g. "X no longer exists")
    message_ref: str | None = None  # the clicked card, for a button that replaces it (a page of results)
    channel: Responder | None = None  # the channel's own responder: a live card keeps updating after the turn


class Watch:
    """A responder that remembers what was sent through it (the confirmation card a typed "yes" answers)."""

    def __init__(self, inner: Responder) -> None:
        self.inner = inner
        self.sent: list[tuple[Card, str | None]] = []

    async def send(self, card: Card) -> str | None:
        ref = await self.inner.send(card)
        self.sent.append((card, ref))
        return ref

    async def update(self, ref: str, card: Card) -> None:
        await self.inner.update(ref, card)

    async def toast(self, text: str) -> None:
        await self.inner.toast(text)
