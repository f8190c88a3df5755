"""No input stalls the bot: a long message is answered "too long" before any pattern sees it, the parser is
linear in its input (a 4,000-character word, a 65,000-character word), and another chat is answered meanwhile.
No time is asserted here: the pytest timeout only ends a hang (the 65,000-character word took the old
parser's patterns minutes). `python -m tests.bench.bench_parser` prints the figures."""

from __future__ import annotations

import uuid

import pytest

from bot.app import Bot
from bot.conversation.intent import Kind
from bot.conversation.lexer import name_tokens, normalize, ordinal
from bot.conversation.parser import is_list_request, parse, parse_slash
from bot.conversation.slots import match_answer
from bot.core.events import MessageEvent
from tests.conversation.conftest import Chat, make_chat

HOSTILE = [
    "a" * 4000,  # one word as long as a message may be
    "a-" * 2000,  # a name-like word that never ends in a name character where a pattern wants one
    "9" * 4000,
    "dev" + " " * 3990 + "x",
    "看" * 4000,
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", HOSTILE, ids=["a", "a-", "digits", "spaces", "cjk"])
def test_the_longest_allowed_message_is_parsed_in_one_pass(text: str) -> None:
    assert parse(text).kind in (Kind.NONE, Kind.TOOL)
    name_tokens(text)
    ordinal(text)
    is_list_request(text)
    match_answer(text, ["dev", "production"], exact_only=False)


@pytest.mark.timeout(60)
def test_a_65000_character_word_is_refused_by_length_before_any_pattern_runs() -> None:
    word = "a" * 65000
    assert parse(word).kind is Kind.TOO_LONG
    assert parse_slash("/logs " + word).kind is Kind.TOO_LONG
    assert len(normalize(word)) < len(word)  # bounded even where a caller normalises first


@pytest.mark.timeout(120)
async def test_long_words_from_one_chat_get_a_friendly_answer_and_another_chat_is_answered(bot: Bot) -> None:
    attacker = make_chat(bot, "mallory", "noisy-chat")
    other = make_chat(bot, "alice", "quiet-chat")
    for text in ["a" * 4000, "a-" * 2000, "b" * 65000, "a" * 4000]:
        assert await bot.dispatcher.submit(
            MessageEvent(uuid.uuid4().hex, attacker.conversation, attacker.sender, text), attacker.out
        )
    assert await bot.dispatcher.submit(
        MessageEvent(uuid.uuid4().hex, other.conversation, other.sender, "/ns"), other.out
    )
    await bot.dispatcher.drain()
    assert any("dev" in other.text(c) for c in other.out.cards), "the other chat got no answer"
    said = "\n".join(attacker.text(c) for c in attacker.out.cards)
    assert "65000" in said and "4000" in said  # "this message has 65000 characters; I handle at most 4000"
    assert "Traceback" not in said and "went wrong" not in said


async def test_a_4000_character_word_is_not_taken_for_a_name(chat: Chat) -> None:
    card = await chat.say("a" * 3999)
    assert "a" * 300 not in chat.text(card)  # never echoed back as a pod or namespace name
