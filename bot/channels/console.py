"""Console channel: chat with the bot in a terminal, or pipe messages in (one per line).

Cards print as text boxes with numbered buttons; typing a number or a button's label presses that button
(a CardActionEvent carrying the button's signed payload, exactly like a platform click). Piped input: each line
is handled in order, and the process exits 0 at end of input once every reply is out.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections import deque
from typing import BinaryIO, Protocol, TextIO

from bot.conversation.parser import Kind, is_quick, parse
from bot.core.actions import ActionCodec, InvalidPayload
from bot.core.dispatcher import Dispatcher
from bot.core.events import CardActionEvent, Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.i18n import Lang, detect_lang, tr
from bot.render.escape import console_text
from bot.render.model import Card
from bot.render.names import remember
from bot.render.text import render_card


class Bot(Protocol):
    """What the console needs of `bot.app.Bot` (channels never import the composition root)."""

    @property
    def dispatcher(self) -> Dispatcher: ...

    @property
    def codec(self) -> ActionCodec: ...


# Console-only commands, handled here and never seen by the engine (its slash commands are in bot/conversation/):
# `/as NAME` switches the person typing, so a two-person approval can be shown in one terminal.
SWITCH_USER = ("/as", "/user")
USER_NAME = re.compile(r"^[\w.@-]{1,32}$")  # one word: it becomes the policy subject `console:NAME`
DEFAULT_USER = "console-user"
DEFAULT_NAME = "you"  # shown as 你 / you on cards

MAX_LINE_BYTES = 64 * 1024  # longer lines are cut here; the engine then says the message is too long
RECENT_BUTTONS = 40


class ConsoleResponder:
    def __init__(self, channel: ConsoleChannel) -> None:
        self._channel = channel

    async def send(self, card: Card) -> str | None:
        return self._channel.show(card)

    async def update(self, ref: str, card: Card) -> None:
        self._channel.show(card, ref=ref)

    async def toast(self, text: str) -> None:
        self._channel.write(f"» {text}")


class ConsoleChannel:
    def __init__(
        self,
        bot: Bot,
        *,
        out: TextIO | None = None,
        user_id: str = DEFAULT_USER,
        user_name: str = DEFAULT_NAME,
        chat_id: str = "console",
    ) -> None:
        self.bot = bot
        self.out = out or sys.stdout
        self.conversation = Conversation(Platform.CONSOLE, chat_id, is_group=False)
        self.sender = Sender(user_id, user_name)
        remember(self.sender.subject(Platform.CONSOLE), user_name)
        self.responder = ConsoleResponder(self)
        self._buttons: list[tuple[str, str]] = []  # (label, signed payload) of the last card with buttons
        self._recent: deque[tuple[str, str]] = deque(maxlen=RECENT_BUTTONS)  # older buttons, pressable by label
        self._cards = 0
        self.lang = Lang.ZH

    # ---- output
    def write(self, text: str) -> None:
        # toasts and notices may echo cluster or user text: no control sequence reaches the terminal
        self.out.write(console_text(text) + "\n")
        self.out.flush()

    def show(self, card: Card, ref: str | None = None) -> str:
        updated = ref is not None
        if ref is None:
            self._cards += 1
            ref = f"card-{self._cards}"
        signed: list[tuple[str, str]] = []
        kept = []
        for button in card.buttons:
            try:
                signed.append((button.label, self.bot.codec.encode(button.action, self.conversation.chat_key)))
                kept.append(button)
            except InvalidPayload:  # too long to carry: leave it out rather than show a dead button
                continue
        shown = Card(
            title=card.title + (" ↻" if updated else ""),  # replaced the card above (progress -> result)
            blocks=card.blocks,
            buttons=tuple(kept),
            tone=card.tone,
            footer=card.footer,
            input_hint=card.input_hint,
        )
        self.write(render_card(shown))
        if signed:
            self._recent.extend(self._buttons)
            self._buttons = signed
        return ref

    def switch_user(self, name: str) -> str:
        """`/as NAME`: the next lines are typed by NAME (a notice in the session's language)."""
        if not USER_NAME.match(name):
            return "⚠ " + tr(
                self.lang,
                "用法：/as 名字（一个词，最多 32 个字母、数字或 . _ @ -）",
                "Usage: /as NAME (one word, up to 32 letters, digits or . _ @ -)",
            )
        self.sender = Sender(name, name)
        remember(self.sender.subject(Platform.CONSOLE), name)
        return "» " + tr(self.lang, "现在以 {n} 的身份输入。", "Now typing as {n}.", n=name)

    # ---- input
    def to_event(self, text: str) -> InboundEvent | str:
        """A typed line as an event: a button press (number or label) or a message. A str is a local notice."""
        stripped = text.strip()
        eid = uuid.uuid4().hex
        if stripped.isdigit() and len(stripped) <= 3 and self._buttons:
            n = int(stripped)
            if 1 <= n <= len(self._buttons):
                return CardActionEvent(eid, self.conversation, self.sender, self._buttons[n - 1][1])
            return tr(
                self.lang,
                "没有按钮 [{n}]，上一张卡片有 {m} 个按钮。",
                "There is no button [{n}]; the last card has {m}.",
                n=n,
                m=len(self._buttons),
            )
        label = stripped.strip("[]【】 ").lower()
        if label:
            # An older card's button only when the words are not a request of their own: "previous logs" typed
            # after another pod was shown means THAT pod (the engine knows), not an old card's "Previous logs".
            older = [] if parse(stripped).kind is Kind.TOOL and not is_quick(stripped) else list(reversed(self._recent))
            for lab, payload in [*self._buttons, *older]:
                if lab.lower() == label:
                    return CardActionEvent(eid, self.conversation, self.sender, payload)
        return MessageEvent(eid, self.conversation, self.sender, text)

    async def handle_line(self, raw: bytes) -> None:
        data = raw.rstrip(b"\r\n")
        text = data.decode("utf-8", errors="replace")
        if "\ufffd" in text and b"\xef\xbf\xbd" not in data:
            lang = detect_lang(text, self.lang)
            self.write(
                "⚠ "
                + tr(
                    lang,
                    "输入里有无效的 UTF-8 字节，已替换为 �。",
                    "The input had invalid UTF-8 bytes; they were replaced with �.",
                )
            )
        words = text.split()
        if words and words[0].lower() in SWITCH_USER:
            self.write(self.switch_user(" ".join(words[1:])))
            return
        if text.strip():
            self.lang = detect_lang(text, self.lang) if not text.strip().isdigit() else self.lang
        event = self.to_event(text)
        if isinstance(event, str):
            self.write("⚠ " + event)
            return
        await self.bot.dispatcher.submit(event, self.responder)
        await self.bot.dispatcher.drain()

    async def run(self, stdin: BinaryIO, *, interactive: bool) -> int:
        loop = asyncio.get_running_loop()
        while True:
            if interactive:
                self.out.write("> ")
                self.out.flush()
            raw = await loop.run_in_executor(None, stdin.readline, MAX_LINE_BYTES)
            if not raw:
                break
            stripped = raw.strip().lower()
            if interactive and stripped in (b"/quit", b"/exit", b"exit", b"quit"):
                break
            await self.handle_line(raw)
        await self.bot.dispatcher.drain()
        return 0


async def run_console_channel(
    bot: Bot, stdin: BinaryIO | None = None, out: TextIO | None = None, *, user: str | None = None
) -> int:
    source = stdin or sys.stdin.buffer
    interactive = bool(getattr(source, "isatty", lambda: False)())
    channel = ConsoleChannel(bot, out=out)
    if user:
        notice = channel.switch_user(user)
        if notice.startswith("⚠"):
            channel.write(notice)
            return 2
    if interactive:
        channel.write(
            tr(Lang.ZH, "KubeDuty 控制台：输入消息，输入按钮编号点击按钮，/as 名字 切换用户，/quit 退出。", "")
            + "\n"
            + tr(
                Lang.EN,
                "",
                "KubeDuty console: type a message, a button's number to press it, /as NAME to switch user, /quit to leave.",
            )
        )
    return await channel.run(source, interactive=interactive)
