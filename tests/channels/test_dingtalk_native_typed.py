"""DingTalk without a card template, used like a real group: codes typed wrong, late, twice, or in another chat
each get a short answer in the card's language, and nothing runs that should not (the real bot, real Redis, the
sandbox cluster, the real SDK against the emulator)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels.dingtalk import delivery
from bot.core.events import Conversation, Platform
from bot.render import names
from bot.store import Store
from tests.channels.conftest import Serve
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.test_dingtalk_native import SCALE, approval_settings, no_template, replicas, texts
from tests.channels.test_scenarios_real_bot import builder, eventually

BOB = {"user_id": "staff-bob", "nick": "Bob"}


@pytest.fixture(autouse=True)
def no_names_left_behind() -> Iterator[None]:
    """Names learned here ("Bob") are process memory: later tests in this process must not inherit them."""
    yield
    names.forget_all()


async def approval_code(gw: DingTalkEmulator) -> tuple[str, bool]:
    """Alice asks; Bob or Carol must approve by typing the card's code. Returns the code and whether the card is
    in English (the card's language is the conversation's, which the bot decides; notices follow the card's)."""
    await gw.say(SCALE)
    card = await eventually(
        lambda: next((t for t in texts(gw) if "Confirm change" in t or "确认改动" in t), None),
        "the approval",
        state=lambda: texts(gw),
    )
    m = re.search(r"(?:Reply `([A-Z2-9]{4})`: Approve|回复 `([A-Z2-9]{4})`：批准)", card)
    assert m is not None, card
    return m.group(1) or m.group(2), m.group(1) is not None


def pick(en: bool, english: str, chinese: str) -> str:
    return english if en else chinese


async def answer_after(gw: DingTalkEmulator, seen: int, part: str) -> str:
    return await eventually(
        lambda: next((t for t in texts(gw)[seen:] if part in t), None),
        f"an answer with {part!r}",
        state=lambda: texts(gw),
    )


def other_code(code: str) -> str:
    return "ZZ9Z" if code != "ZZ9Z" else "YY8Y"


async def test_without_a_template_a_mistyped_code_is_answered_in_the_users_language_and_runs_nothing(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    await serve_bot(
        no_template(approval_settings(sandbox, redis_url, tmp_path / "a.jsonl", dingtalk=gw)), builder(store)
    )
    await gw.wait_connected()
    before = replicas(sandbox)
    code, _ = await approval_code(gw)
    wrong = other_code(code)

    seen = len(texts(gw))
    await gw.say(wrong, **BOB)
    notice = await answer_after(gw, seen, wrong)
    assert "There is no code" in notice and "nothing was run" in notice  # latin letters read as English
    seen = len(texts(gw))
    await gw.say(f"approve {wrong.lower()}", **BOB)
    assert "There is no code" in await answer_after(gw, seen, wrong)
    seen = len(texts(gw))
    await gw.say(f"批准 {wrong}", **BOB)
    assert "这个聊天里没有代码" in await answer_after(gw, seen, wrong)
    assert not any("help" in t.lower() or "帮助" in t for t in texts(gw)[seen:])  # a reason, not the help card
    assert replicas(sandbox) == before

    await gw.say(code, **BOB)  # the right code still works afterwards, once
    await eventually(lambda: replicas(sandbox) == 3 or None, "the change run", state=lambda: texts(gw))


async def test_without_a_template_a_code_typed_in_another_chat_is_refused_there_and_still_works_in_its_own(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    await serve_bot(
        no_template(approval_settings(sandbox, redis_url, tmp_path / "a.jsonl", dingtalk=gw)), builder(store)
    )
    await gw.wait_connected()
    before = replicas(sandbox)
    code, en = await approval_code(gw)

    seen = len(texts(gw))
    await gw.say(code, conversation_id="cid-group-2", **BOB)
    notice = await answer_after(gw, seen, code)
    assert pick(en, "belongs to another chat", "属于另一个聊天") in notice  # in the card's language
    assert replicas(sandbox) == before

    await gw.say(code, **BOB)
    await eventually(lambda: replicas(sandbox) == 3 or None, "the change run", state=lambda: texts(gw))


async def test_without_a_template_a_code_typed_twice_by_the_approver_runs_the_change_once(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    await serve_bot(
        no_template(approval_settings(sandbox, redis_url, tmp_path / "a.jsonl", dingtalk=gw)), builder(store)
    )
    await gw.wait_connected()
    code, en = await approval_code(gw)
    await gw.say(code, **BOB)
    await gw.say(code, **BOB)
    late = pick(en, "already been run", "已经执行过")
    await eventually(lambda: next((t for t in texts(gw) if late in t), None), "the second answer")
    assert len([t for t in texts(gw) if t.startswith(pick(en, "✅ Done", "✅ 已执行"))]) == 1, texts(gw)
    assert replicas(sandbox) == 3


async def test_without_a_template_a_code_whose_hour_has_passed_says_it_expired_and_runs_nothing(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    settings = no_template(approval_settings(sandbox, redis_url, tmp_path / "a.jsonl", dingtalk=gw))
    await serve_bot(settings, builder(store))
    await gw.wait_connected()
    before = replicas(sandbox)
    code, en = await approval_code(gw)
    # the code's entry lapses (its Redis TTL of an hour) as it would an hour later; the bot runs on this store
    chat = Conversation(Platform.DINGTALK, "cid-group-1", is_group=True).chat_key
    assert await store.delete(delivery._code_key(store, chat, code)) == 1

    seen = len(texts(gw))
    await gw.say(f"approve {code}", **BOB)
    notice = await answer_after(gw, seen, code)
    assert pick(en, "has expired", "已过期") in notice and pick(en, "nothing was run", "没有执行任何操作") in notice
    assert replicas(sandbox) == before


async def test_without_a_template_a_code_typed_after_its_approval_expired_is_refused_and_runs_nothing(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    settings = no_template(approval_settings(sandbox, redis_url, tmp_path / "a.jsonl", dingtalk=gw))
    settings = settings.model_copy(update={"approval_ttl_seconds": 2})  # the approval lapses; the code does not
    await serve_bot(settings, builder(store))
    await gw.wait_connected()
    before = replicas(sandbox)
    code, en = await approval_code(gw)
    await asyncio.sleep(3)  # past the approval's 2 s (how late does not matter: any later is as expired)

    seen = len(texts(gw))
    await gw.say(code, **BOB)
    notice = await answer_after(gw, seen, pick(en, "expired", "已过期"))
    assert pick(en, "nothing ran", "没有执行任何操作") in notice  # in the card's language
    assert replicas(sandbox) == before
