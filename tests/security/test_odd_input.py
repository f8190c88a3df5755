"""Odd input gets a clear answer in the user's language, never "Something went wrong": lone surrogates in a
message or a button payload (JSON `\\ud800` decodes to one), and a button whose signature is not even ASCII."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core.events import CardActionEvent
from bot.store import Store
from tests.channels.conftest import Serve, make_echo_bot, platform_settings
from tests.channels.emulators import dingtalk as dingtalk_emulator
from tests.channels.emulators import feishu as feishu_emulator
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator

LONE = "\ud800"


@pytest.fixture(autouse=True)
def _frames_may_carry_lone_surrogates(monkeypatch: pytest.MonkeyPatch) -> None:
    # The platforms send JSON with `\ud800` escapes; the emulators write frames with ensure_ascii=False, which
    # cannot encode a lone surrogate. Writing them escaped is what the real wire does.
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, **{**kwargs, "ensure_ascii": True})

    shim = SimpleNamespace(dumps=dumps, loads=json.loads)
    monkeypatch.setattr(feishu_emulator, "json", shim)
    monkeypatch.setattr(dingtalk_emulator, "json", shim)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (f"帮我看看 {LONE} 日志", "无法处理这条消息：其中包含无效字符"),
        (f"show logs {LONE} please", "I can't read that message"),
    ],
)
async def test_a_feishu_message_with_a_lone_surrogate_gets_an_invalid_input_answer_in_the_users_language(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve, text: str, answer: str
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say(text)
    (reply,) = await feishu_gateway.wait_sent(1)
    assert reply.msg_type == "text" and answer in reply.text
    assert bot.seen == []  # refused at the edge, never a generic error from deep inside


async def test_feishu_buttons_with_a_lone_surrogate_or_a_non_ascii_signature_are_refused_as_invalid(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("status")
    (card,) = await feishu_gateway.wait_sent(1)
    payload = card.button("again")["behaviors"][0]["value"]["p"]
    body, _mac = payload.split(".")
    surrogate = await feishu_gateway.click(card, "again", value={"p": payload + LONE})
    assert surrogate["toast"]["type"] == "error" and "Invalid button data" in surrogate["toast"]["content"]
    non_ascii = await feishu_gateway.click(card, "again", value={"p": body + ".签名ÿ"})
    assert non_ascii == {"toast": {"type": "error", "content": "Invalid button data; ignored."}}
    await feishu_gateway.quiet()
    assert not any(isinstance(e, CardActionEvent) for e in bot.seen) and len(card.versions) == 1


async def test_a_dingtalk_message_with_a_lone_surrogate_gets_an_invalid_input_answer(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say(f"查看 {LONE} pods")
    await dingtalk_gateway.wait_calls("POST", "/v1.0/robot/groupMessages/send")
    assert "无法处理这条消息" in dingtalk_gateway.texts[0]["text"]
    assert bot.seen == []
