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
from collections.abc import Awaitable, Callable
from typing import BinaryIO, Protocol, TextIO

from bot.channels.console_stream import ConsoleStream
from bot.conversation.parser import Kind, is_quick, parse
from bot.core.actions import ActionCodec, InvalidPayload
from bot.core.dispatcher import Dispatcher
from bot.core.events import CardActionEvent, Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.i18n import Lang, detect_lang, tr
from bot.core.typed_lang import typed_lang
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
# `/drill oom checkout` (演练): a scripted incident in the demo's sandbox, wired by `kubeduty demo` (bot.alerts.demo);
# it prints its own notices through `say` and returns once the alert card is out (or it gave up waiting).
DRILL = ("/drill", "/演练")
Drill = Callable[[list[str], Lang, Callable[[str], None]], Awaitable[None]]
USER_NAME = re.compile(r"^[\w.@-]{1,32}$")  # one word: it becomes the policy subject `console:NAME`
DEFAULT_USER = "console-user"
DEFAULT_NAME = "you"  # shown as 你 / you on cards

Pressable = tuple[str, str, str | None]  # (label, signed payload, the tool a plain "run" button reads, if any)
MAX_LINE_BYTES = 64 * 1024  # longer lines are cut here; the engine then says the message is too long
RECENT_BUTTONS = 40


def _same_read(text: str, tool: str) -> bool:
    """True when `text` is itself a request for `tool` (a runbook's title that merely parses as some tool is not)."""
    intent = parse(text)
    return intent.kind is Kind.TOOL and intent.tool == tool and not is_quick(text)


class ConsoleResponder:
    def __init__(self, channel: ConsoleChannel) -> None:
        self._channel = channel

    async def send(self, card: Card) -> str | None:
        return self._channel.show(card)

    async def update(self, ref: str, card: Card) -> None:
        self._channel.show(card, ref=ref)

    async def toast(self, text: str) -> None:
        self._channel.write(f"» {text}")

    async def stream(self, title: str, *, lang: Lang) -> ConsoleStream:
        return ConsoleStream(self._channel, title, lang=lang)  # progress as growing text (console_stream.py)


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
        self._buttons: list[Pressable] = []  # the buttons of the last card with buttons
        self._recent: deque[Pressable] = deque(maxlen=RECENT_BUTTONS)  # older buttons, pressable by label
        # each shown button's card language: a click answers in its card's language, as on the IM platforms
        self._card_lang: dict[str, Lang] = {}
        self._cards = 0
        self.lang = Lang.ZH
        self.drill: Drill | None = None

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
        signed: list[Pressable] = []
        kept = []
        for button in card.buttons:
            try:
                payload = self.bot.codec.encode(button.action, self.conversation.chat_key)
                tool = button.action.args.get("t") if button.action.op == "run" else None
                signed.append((button.label, payload, tool if isinstance(tool, str) else None))
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
            lang = card.meta.get("lang")
            if lang in (Lang.ZH.value, Lang.EN.value):
                self._card_lang.update((payload, Lang(lang)) for _, payload, _ in signed)
            live = {p for _, p, _ in (*self._buttons, *self._recent)}
            self._card_lang = {p: lg for p, lg in self._card_lang.items() if p in live}
        return ref

    def _click(self, eid: str, payload: str) -> CardActionEvent:
        return CardActionEvent(eid, self.conversation, self.sender, payload, lang=self._card_lang.get(payload))

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

    async def run_drill(self, command: str, args: list[str]) -> None:
        lang = Lang.ZH if command == "/演练" else self.lang
        if self.drill is None:
            self.write(
                "⚠ " + tr(lang, "演练只在 kubeduty demo 里可用。", "Drills are only available in kubeduty demo.")
            )
            return
        await self.drill(args, lang, self.write)

    # ---- input
    def to_event(self, text: str) -> InboundEvent | str:
        """A typed line as an event: a button press (number or label) or a message. A str is a local notice."""
        stripped = text.strip()
        eid = uuid.uuid4().hex
        if stripped.isdigit() and len(stripped) <= 3 and self._buttons:
            n = int(stripped)
            if 1 <= n <= len(self._buttons):
                return self._click(eid, self._buttons[n - 1][1])
            return tr(
                self.lang,
                "没有按钮 [{n}]，上一张卡片有 {m} 个按钮。",
                "There is no button [{n}]; the last card has {m}.",
                n=n,
                m=len(self._buttons),
            )
        label = stripped.strip("[]【】 ").lower()
        if label:
            # A label of a card still on screen presses that button, the newest card's first (a stale card gets
            # the engine's stale-card notice), like a click: the parser never sees it.
            for lab, payload, _ in self._buttons:
                if lab.lower() == label:
                    return self._click(eid, payload)
            older = [(payload, tool) for lab, payload, tool in reversed(self._recent) if lab.lower() == label]
            # ...except an older card's plain read ("Previous logs") typed as a request of its own: the engine runs
            # it on the object in focus now (another pod was shown since). Parsed only then: parsing costs.
            if older and not (older[0][1] is not None and _same_read(stripped, older[0][1])):
                return self._click(eid, older[0][0])
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
        if words and words[0].lower() in DRILL:  # a command and a workload name: the session's language stays
            await self.run_drill(words[0], words[1:])
            return
        event = self.to_event(text)
        if isinstance(event, MessageEvent):  # a button press or "/pods dev" keeps the session's language
            self.lang = typed_lang(text, self.lang)
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
    bot: Bot,
    stdin: BinaryIO | None = None,
    out: TextIO | None = None,
    *,
    user: str | None = None,
    prepare: Callable[[ConsoleChannel], Awaitable[None]] | None = None,
) -> int:
    """`prepare` runs once the channel exists, before the first line (the demo attaches its on-call loop)."""
    source = stdin or sys.stdin.buffer
    interactive = bool(getattr(source, "isatty", lambda: False)())
    channel = ConsoleChannel(bot, out=out)
    if prepare is not None:
        await prepare(channel)
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
        if channel.drill is not None:
            channel.write(
                "/drill oom checkout（/演练）：演练一次故障，告警会出现在这里 · "
                "a scripted incident whose alert lands here (oom, crashloop, imagepull, pending, badrollout)"
            )
    return await channel.run(source, interactive=interactive)
