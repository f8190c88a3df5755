"""End to end through each platform: the real bot (`bot.app.build_bot`) with real Redis and the sandbox
cluster over HTTP, the real IM SDKs connected to the gateway emulators, buttons clicked instead of typing."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.app import build_bot
from bot.settings import Settings
from bot.store import Store
from tests.channels.chats import Chat, DingTalkChat, FeishuChat, View
from tests.channels.conftest import Serve, platform_settings
from tests.channels.emulators.dingtalk import DingTalkEmulator, SentCard
from tests.channels.emulators.feishu import FeishuEmulator, FeishuMessage

T = TypeVar("T")

POLICY = Path(__file__).parent / "data" / "policy.yaml"
REFERENCE_REQUEST = "hi，帮我看一下 cart-service 的日志"


def real_bot_settings(sandbox: Any, redis_url: str, audit_path: Path, **platforms: Any) -> Settings:
    return platform_settings(
        **platforms,
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        redis_url=redis_url,
        key_prefix=f"kdtest-{uuid.uuid4().hex[:10]}",
        llm_api_key=None,  # the rule parser: the dialogue must not depend on an LLM
        action_secret="channel-scenario-secret",
        policy_files=[str(POLICY)],
        audit_log_path=str(audit_path),
    )


class Clock:
    """The bot's clock, moved by the test (button expiry) instead of waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def builder(store: Store, clock: Callable[[], float] = time.time) -> Callable[[Settings], Any]:
    return lambda settings: build_bot(settings, store=store, clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def eventually(
    find: Callable[[], T | None], what: str, within: float = 20.0, state: Callable[[], Any] = lambda: None
) -> T:
    deadline = time.monotonic() + within
    while True:
        found = find()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; state: {state()}")
        await asyncio.sleep(0.05)


# --- DingTalk ------------------------------------------------------------------------------------------------


def dt_card_with_button(gw: DingTalkEmulator, label_part: str, after: int = 0) -> SentCard | None:
    for card in reversed(gw.sent_cards()[after:]):
        if any(label_part in b["label"]["text"] for b in card.buttons()):
            return card
    return None


def dt_card_with_text(gw: DingTalkEmulator, text: str, after: int = 0) -> SentCard | None:
    for card in reversed(gw.sent_cards()[after:]):
        if text in card.text:
            return card
    return None


async def test_the_reference_dialogue_through_dingtalk_with_button_clicks(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    await serve_bot(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw), builder(store))
    await gw.wait_connected()

    await gw.say(REFERENCE_REQUEST)
    namespaces = await eventually(
        lambda: dt_card_with_button(gw, "dev"),
        "a card offering namespace dev",
        state=lambda: [c.text for c in gw.sent_cards()],
    )
    seen = len(gw.sent_cards())
    await gw.click(namespaces, "dev")
    pods = await eventually(lambda: dt_card_with_button(gw, "cart-service-v2", seen - 1), "a card offering the v2 pod")
    assert "cart-service-v1" in pods.text  # both versions are offered, in dev
    seen = len(gw.sent_cards())
    await gw.click(pods, "cart-service-v2")
    logs = await eventually(lambda: dt_card_with_text(gw, "v2.0.0-canary", seen - 1), "the v2 pod's logs")
    assert "new pricing engine" in logs.text and "v1.4.2" not in logs.text
    assert all(c.conversation_id == "cid-group-1" for c in gw.sent_cards())


async def test_a_forged_button_payload_is_refused_by_the_real_bot_on_dingtalk(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    await serve_bot(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw), builder(store))
    await gw.wait_connected()
    await gw.say(REFERENCE_REQUEST)
    namespaces = await eventually(lambda: dt_card_with_button(gw, "dev"), "a card offering namespace dev")
    cards_before = len(gw.sent_cards())
    params = dict(namespaces.button("dev")["params"])
    body, mac = params["p"].split(".")
    params["p"] = body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    await gw.click(namespaces, "dev", params=params)
    await gw.wait_calls("POST", "/v1.0/robot/groupMessages/send")
    await gw.quiet()
    assert len(gw.texts) == 1 and gw.texts[0]["openConversationId"] == "cid-group-1"
    assert len(gw.sent_cards()) == cards_before  # nothing ran


# --- Feishu --------------------------------------------------------------------------------------------------


def fs_card_with_button(gw: FeishuEmulator, label_part: str, after: int = 0) -> FeishuMessage | None:
    for msg in reversed(gw.sent()[after:]):
        if msg.msg_type == "interactive" and any(label_part in b["text"]["content"] for b in msg.buttons()):
            return msg
    return None


def fs_card_with_text(gw: FeishuEmulator, text: str, after: int = 0) -> FeishuMessage | None:
    for msg in reversed(gw.sent()[after:]):
        if text in msg.text:
            return msg
    return None


async def test_the_reference_dialogue_through_feishu_with_button_clicks(
    store: Store, redis_url: str, sandbox: Any, feishu_gateway: FeishuEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = feishu_gateway
    await serve_bot(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw), builder(store))
    await gw.wait_connected()

    await gw.say(REFERENCE_REQUEST)
    namespaces = await eventually(lambda: fs_card_with_button(gw, "dev"), "a card offering namespace dev")
    seen = len(gw.sent())
    await gw.click(namespaces, "dev")
    pods = await eventually(lambda: fs_card_with_button(gw, "cart-service-v2", seen - 1), "a card offering the v2 pod")
    assert "cart-service-v1" in pods.text
    seen = len(gw.sent())
    await gw.click(pods, "cart-service-v2")
    logs = await eventually(lambda: fs_card_with_text(gw, "v2.0.0-canary", seen - 1), "the v2 pod's logs")
    assert "new pricing engine" in logs.text and "v1.4.2" not in logs.text
    assert {m.chat_id for m in gw.sent()} == {"oc_group_1"}


async def test_a_forged_button_payload_is_refused_by_the_real_bot_on_feishu_with_a_toast(
    store: Store, redis_url: str, sandbox: Any, feishu_gateway: FeishuEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = feishu_gateway
    await serve_bot(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw), builder(store))
    await gw.wait_connected()
    await gw.say(REFERENCE_REQUEST)
    namespaces = await eventually(lambda: fs_card_with_button(gw, "dev"), "a card offering namespace dev")
    sent_before = len(gw.sent())
    value = dict(namespaces.button("dev")["behaviors"][0]["value"])
    body, mac = value["p"].split(".")
    value["p"] = body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    answer = await gw.click(namespaces, "dev", value=value)
    assert answer.get("toast", {}).get("content")  # the refusal, as a toast
    assert "card" not in answer
    await gw.quiet()
    assert len(gw.sent()) == sent_before and len(namespaces.versions) == 1


async def test_a_redelivered_message_gets_one_answer_from_the_real_bot(
    store: Store, redis_url: str, sandbox: Any, feishu_gateway: FeishuEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = feishu_gateway
    await serve_bot(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw), builder(store))
    await gw.wait_connected()
    event = gw.message_event("/help", message_id="om_in_help_once")
    await gw.push(event)
    await gw.push(event)
    await gw.wait_sent(1)
    await gw.quiet(1.0)
    assert len([m for m in gw.sent() if m.reply_to == "om_in_help_once"]) == 1


# --- every scenario on both platforms, through one driving interface ----------------------------------------


@pytest.fixture(params=["dingtalk", "feishu"])
async def chat(
    request: pytest.FixtureRequest,
    store: Store,
    redis_url: str,
    sandbox: Any,
    serve_bot: Serve,
    tmp_path: Path,
    clock: Clock,
) -> Chat:
    if request.param == "dingtalk":
        gw: Any = request.getfixturevalue("dingtalk_gateway")
        settings = real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw)
        driver: Chat = DingTalkChat(gw)
    else:
        gw = request.getfixturevalue("feishu_gateway")
        settings = real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw)
        driver = FeishuChat(gw)
    await serve_bot(settings, builder(store, clock))
    await driver.wait_connected()
    return driver


def newest(chat: Chat, has: str, after: int = 0) -> View | None:
    for view in reversed(chat.views()[after:]):
        if has in view.text:
            return view
    return None


async def test_a_group_mention_gets_a_card_answer_in_the_group(chat: Chat) -> None:
    await chat.say("看下 dev 里的 pod")
    pods = await eventually(lambda: newest(chat, "cart-service-v2"), "the pods of dev", state=lambda: chat.views())
    assert pods.chat == chat.group


async def test_a_group_message_without_a_mention_gets_no_answer(chat: Chat) -> None:
    await chat.say("看下 dev 里的 pod", at_bot=False)
    await chat.quiet(1.5)
    assert chat.views() == [] and chat.notices() == []


async def test_a_direct_message_is_answered_to_that_user(chat: Chat) -> None:
    await chat.say("pods in dev", group=False, user="bob")
    pods = await eventually(lambda: newest(chat, "cart-service-v1"), "the pods of dev", state=lambda: chat.views())
    assert {v.chat for v in chat.views()} == {chat.dm("bob")}
    assert pods.chat == chat.dm("bob")


async def test_a_slash_command_is_answered_in_a_group_even_without_a_mention(chat: Chat) -> None:
    await chat.say("/help", at_bot=False)
    help_card = await eventually(lambda: newest(chat, "/scale"), "the help card", state=lambda: chat.views())
    assert help_card.chat == chat.group


async def test_a_button_click_updates_the_card_in_place(chat: Chat, sandbox: Any) -> None:
    await chat.say("/scale cart-service-v1 3 -n dev")
    confirm = await eventually(
        lambda: next((v for v in chat.views() if "Confirm" in v.labels), None),
        "the confirmation card",
        state=lambda: chat.views(),
    )
    cards_before = len(chat.views())
    await chat.click(confirm, "Confirm")
    updated = await eventually(
        lambda: next((v for v in chat.views() if v.ref == confirm.ref and v.versions > confirm.versions), None),
        "the confirmation card replaced in place",
        state=lambda: chat.views(),
    )
    assert "Confirm" not in updated.labels and len(chat.views()) == cards_before
    assert sandbox.cluster.peek("deployments", "dev", "cart-service-v1")["spec"]["replicas"] == 3


async def test_the_same_frame_delivered_twice_gets_one_answer(chat: Chat) -> None:
    await chat.say_twice("/help", msg_id="msg-redelivered-1")
    await eventually(lambda: newest(chat, "/scale"), "the help card", state=lambda: chat.views())
    await chat.quiet(1.0)
    assert len([v for v in chat.views() if "/scale" in v.text]) == 1


async def test_after_the_gateway_drops_the_connection_the_bot_reconnects_and_answers_the_next_message(
    chat: Chat,
) -> None:
    await chat.drop()
    await chat.wait_connected(connections=2)
    await chat.say("/help")
    await eventually(lambda: newest(chat, "/scale"), "the help card after reconnecting", state=lambda: chat.views())


async def test_an_expired_button_is_refused_with_a_notice_and_runs_nothing(chat: Chat, clock: Clock) -> None:
    await chat.say(REFERENCE_REQUEST)
    choice = await eventually(
        lambda: next((v for v in chat.views() if "dev" in v.labels), None), "the namespace choice", state=chat.views
    )
    cards_before = len(chat.views())
    clock.offset = 2 * 24 * 3600  # two days later: past ACTION_TTL_SECONDS (one day)
    await chat.click(choice, "dev")
    notice = await eventually(lambda: chat.notices() or None, "the refusal notice")
    assert "过期" in notice[0]
    await chat.quiet()
    assert len(chat.views()) == cards_before
