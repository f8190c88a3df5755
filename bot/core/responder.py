"""How handlers talk back: every channel adapter implements `Responder` for the event it is handling."""

from __future__ import annotations

from typing import Protocol

from bot.core.cards import Card


class Responder(Protocol):
    async def send(self, card: Card) -> str | None:
        """Post a new card; returns a reference usable with `update` (None if the platform cannot update)."""

    async def update(self, ref: str, card: Card) -> None:
        """Replace a card posted earlier (or the clicked card) in place."""

    async def toast(self, text: str) -> None:
        """A short transient notice (button presses); a plain message where the platform has no toast."""
