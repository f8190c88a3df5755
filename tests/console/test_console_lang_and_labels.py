"""Review fixes: commands and button labels keep the session's language; an older card's label presses it."""

from __future__ import annotations

import io

from bot.app import Bot
from bot.channels.console import ConsoleChannel
from bot.core.actions import Action, ActionCodec, run_tool_action
from bot.core.cards import Button, Card
from bot.core.dispatcher import Dispatcher
from bot.core.events import CardActionEvent, MessageEvent
from bot.core.i18n import Lang
from bot.core.typed_lang import typed_lang
from tests.console.test_console import console_bot  # noqa: F401  (the in-process bot over the sandbox)


class _Codec:
    """What `to_event`/`show` use of the bot: a real codec; nothing is dispatched in these tests."""

    def __init__(self) -> None:
        self.codec = ActionCodec("test-secret-" + "x" * 32, 600)

    @property
    def dispatcher(self) -> Dispatcher:
        raise AssertionError("not dispatched in this test")


def _runbook_card(title: str, *labels: str) -> Card:
    return Card(title=title, buttons=tuple(Button(lab, Action("alert_runbook", {"r": lab})) for lab in labels))


def test_an_older_cards_runbook_label_presses_that_button_not_the_parser() -> None:
    bot = _Codec()
    channel = ConsoleChannel(bot, out=io.StringIO())  # type: ignore[arg-type]
    label = "执行预案：发布异常：回滚到上一版本"
    channel.show(_runbook_card("诊断", label, "执行预案：内存不足：调高内存上限"))
    channel.show(_runbook_card("更新的卡片", "刷新"))  # a newer card: the runbook card is now an older one
    for typed in (label, "执行预案：内存不足：调高内存上限"):
        event = channel.to_event(typed)
        assert isinstance(event, CardActionEvent), typed
        assert bot.codec.decode(event.payload, channel.conversation.chat_key).args["r"] == typed


def test_the_newest_card_with_a_label_is_the_one_pressed() -> None:
    bot = _Codec()
    channel = ConsoleChannel(bot, out=io.StringIO())  # type: ignore[arg-type]
    channel.show(Card(title="old", buttons=(Button("执行预案：重启", Action("alert_runbook", {"n": 1})),)))
    channel.show(Card(title="new", buttons=(Button("执行预案：重启", Action("alert_runbook", {"n": 2})),)))
    channel.show(_runbook_card("newest", "刷新"))
    event = channel.to_event("执行预案：重启")
    assert isinstance(event, CardActionEvent)
    assert bot.codec.decode(event.payload, channel.conversation.chat_key).args["n"] == 2


def test_an_older_plain_read_typed_as_a_request_still_goes_to_the_engine() -> None:
    bot = _Codec()
    channel = ConsoleChannel(bot, out=io.StringIO())  # type: ignore[arg-type]
    read = run_tool_action("pod_logs", {"namespace": "dev", "pod": "a", "previous": True})
    channel.show(Card(title="logs", buttons=(Button("Previous logs", read),)))
    channel.show(_runbook_card("newer", "Refresh"))
    assert isinstance(channel.to_event("previous logs"), MessageEvent)  # the pod in focus now, not pod a


async def test_a_slash_command_or_a_button_label_keeps_the_consoles_chinese(console_bot: Bot) -> None:  # noqa: F811
    out = io.StringIO()
    channel = ConsoleChannel(console_bot, out=out)
    await channel.handle_line("看下 dev 的 pod\n".encode())
    await channel.handle_line(b"/pods dev\n")
    assert channel.lang is Lang.ZH
    await channel.handle_line(b"/as alice\n")
    assert "现在以 alice 的身份输入" in out.getvalue()
    channel.show(Card(title="x", buttons=(Button("Namespaces", run_tool_action("list_namespaces", {})),)))
    await channel.handle_line(b"[Namespaces]\n")  # an English button label is a press: it says nothing of the user
    assert channel.lang is Lang.ZH
    await channel.handle_line(b"show the events in dev\n")  # an English sentence does switch
    assert channel.lang is Lang.EN
    await channel.handle_line(b"/pods dev\n")
    assert channel.lang is Lang.EN


def test_a_slash_command_keeps_a_known_language_and_only_sentences_move_it() -> None:
    assert typed_lang("/pods dev", Lang.ZH) is Lang.ZH
    assert typed_lang("/pods dev", Lang.EN) is Lang.EN
    assert typed_lang("42", Lang.ZH) is Lang.ZH
    assert typed_lang("/pods 订单", Lang.EN) is Lang.ZH  # a Chinese word is Chinese, command or not
    assert typed_lang("show pods", Lang.ZH) is Lang.EN
