"""The console shows the same progress as a chat card: the working title once, the answer as it grows (only
the new part each time, control sequences made visible), then the final card with its buttons."""

from __future__ import annotations

import io
from types import SimpleNamespace

from bot.channels.console import ConsoleChannel
from bot.conversation.progress import ProgressResponder
from bot.core.actions import Action, ActionCodec
from bot.core.i18n import Lang
from bot.render.model import Button, Card, Markdown
from tests.channels.test_scenarios_real_bot import eventually


def console() -> tuple[ConsoleChannel, io.StringIO]:
    out = io.StringIO()
    bot = SimpleNamespace(dispatcher=None, codec=ActionCodec("console-stream-secret", ttl_seconds=600))
    return ConsoleChannel(bot, out=out), out


async def test_a_streamed_answer_grows_in_the_terminal_then_ends_as_a_card_with_buttons() -> None:
    channel, out = console()
    progress = ProgressResponder(channel.responder, Lang.EN, delay=0.01)
    progress.start()
    await eventually(lambda: "Working on it" in out.getvalue() or None, "the working title")
    await progress.partial("payment-api is crash-looping")
    await progress.partial("payment-api is crash-looping\nbecause it runs out of memory \x1b[31m")
    await progress.send(Card("Answer", blocks=(Markdown("raise the limit"),), buttons=(Button("Logs", Action("x")),)))
    await progress.stop()
    text = out.getvalue()
    assert text.count("Working on it") == 1
    assert text.count("payment-api is crash-looping") == 1  # only the new part is printed each time
    assert "because it runs out of memory \\x1b[31m" in text  # escaped, never executed
    assert "Answer" in text and "[1] Logs" in text


async def test_a_failed_turn_ends_the_terminal_stream_with_the_failure() -> None:
    channel, out = console()
    progress = ProgressResponder(channel.responder, Lang.ZH, delay=0.01)
    progress.start()
    await eventually(lambda: "处理中" in out.getvalue() or None, "the working title")
    await progress.stop(failed=True)
    assert "出错了" in out.getvalue() and "处理失败" in out.getvalue()
