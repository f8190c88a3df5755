"""The console's stream: the terminal shows the same progress as a chat card, as text that grows in place of
card edits. The title prints once, then each push prints only what is new (the whole text again when it is not
a continuation), and `close` prints the final card with its buttons like any other card."""

from __future__ import annotations

from typing import Protocol

from bot.core.cards import Card, Markdown, Tone
from bot.core.i18n import Lang, tr
from bot.core.responder import stream_tail


class Terminal(Protocol):
    def write(self, text: str) -> None: ...  # escapes control sequences itself (`console_text`)

    def show(self, card: Card, ref: str | None = None) -> str: ...


class ConsoleStream:
    def __init__(self, terminal: Terminal, title: str, *, lang: Lang) -> None:
        self._terminal = terminal
        self._title = title
        self._lang = lang
        self._shown = ""
        self._started = False
        self._done = False
        self._ref: str | None = None

    @property
    def ref(self) -> str | None:
        return self._ref

    async def push(self, text: str) -> None:
        if self._done or not text.strip() or text == self._shown:
            return
        if not self._started:
            self._started = True
            self._terminal.write(f"… {self._title}")
        new = text[len(self._shown) :] if text.startswith(self._shown) else "\n" + stream_tail(text)
        self._shown = text
        for line in new.strip("\n").split("\n"):
            self._terminal.write(f"  {line}")

    async def close(self, card: Card) -> str | None:
        if not self._done:
            self._done = True
            self._ref = self._terminal.show(card)
        return self._ref

    async def fail(self, text: str) -> None:
        if not self._done:
            await self.close(Card(title=tr(self._lang, "出错了", "Failed"), blocks=(Markdown(text),), tone=Tone.DANGER))
