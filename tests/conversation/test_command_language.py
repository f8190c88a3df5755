"""A slash command says nothing about the language: a Chinese chat typing `/pods dev` keeps Chinese cards, down
to the language the platform card's buttons carry (a click answers in it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.channels.common import reply_lang
from bot.core.events import MessageEvent
from bot.core.i18n import Lang
from bot.render.feishu import button_lang, render_feishu
from tests.conversation.conftest import Chat


def _button_values(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("p"), str):
            yield node
        for v in node.values():
            yield from _button_values(v)
    elif isinstance(node, list):
        for v in node:
            yield from _button_values(v)


async def test_a_chinese_chats_slash_command_gets_a_chinese_card_whose_buttons_answer_in_chinese(chat: Chat) -> None:
    await chat.say("你好")
    card = await chat.say("/pods dev")
    assert card.meta.get("lang") == "zh"
    # the platform adapter's own guess from the words alone is English ("/pods dev" is ASCII) ...
    event = MessageEvent("e", chat.conversation, chat.sender, "/pods dev")
    assert reply_lang(event) is Lang.EN
    # ... but the card the engine wrote in Chinese renders as Chinese: its buttons carry "zh"
    rendered = render_feishu(card, sign=lambda action: "signed", lang=reply_lang(event))
    values = list(_button_values(rendered))
    assert values and all(button_lang(v) is Lang.ZH for v in values)


async def test_an_english_chats_slash_command_stays_english(chat: Chat) -> None:
    await chat.say("hello, what can you do")
    card = await chat.say("/pods dev")
    assert card.meta.get("lang") == "en"
