"""The Feishu adapter with the real `lark-oapi` SDK (ws client + OpenAPI client) against the local emulator."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.channels.feishu import adapter as feishu_adapter
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent
from bot.core.responder import Responder
from bot.store import Store
from tests.channels.conftest import Serve, make_echo_bot, platform_settings
from tests.channels.emulators.feishu import FeishuEmulator


async def test_a_group_message_that_mentions_the_bot_gets_a_card_reply_with_the_mention_stripped(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    ack = await feishu_gateway.say("hi there", message_id="om_in_q1")
    assert ack["code"] == 200
    (reply,) = await feishu_gateway.wait_sent(1)
    assert reply.msg_type == "interactive" and reply.reply_to == "om_in_q1" and reply.chat_id == "oc_group_1"
    assert reply.title == "echo: hi there"
    assert reply.content["schema"] == "2.0"


async def test_a_group_message_mentioning_someone_else_is_ignored_but_a_command_is_answered(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("lunch?", at_bot=False, also_mention=("ou_carol", "Carol"))
    await feishu_gateway.say("/help", at_bot=False)
    (reply,) = await feishu_gateway.wait_sent(1)
    await feishu_gateway.quiet()
    assert len(feishu_gateway.sent()) == 1 and reply.title == "echo: /help"
    # Ordered within the chat, so "lunch?" was decided before "/help" was handled: it never reached the bot.
    assert [e.text for e in bot.seen if isinstance(e, MessageEvent)] == ["/help"]


async def test_a_mention_of_another_user_next_to_the_bot_is_kept_by_name(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("ask", also_mention=("ou_carol", "Carol"))
    (reply,) = await feishu_gateway.wait_sent(1)
    assert reply.title == "echo: @Carol ask"


async def test_a_direct_message_is_answered_without_a_mention(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("hello", group=False, chat_id="oc_dm_bob", user="ou_bob")
    (reply,) = await feishu_gateway.wait_sent(1)
    assert reply.chat_id == "oc_dm_bob" and reply.title == "echo: hello"
    assert bot.seen[0].sender.user_id == "ou_bob" and not bot.seen[0].conversation.is_group


async def test_a_button_click_is_answered_with_the_updated_card_and_a_toast_in_the_callback(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("deploy status")
    (card,) = await feishu_gateway.wait_sent(1)
    answer = await feishu_gateway.click(card, "again")
    assert answer["toast"]["content"] == "clicked again"
    assert card.title == "clicked: deploy status" and len(card.versions) == 2
    assert feishu_gateway.calls_to("PATCH", "/open-apis/im/v1/messages") == []


async def test_a_click_answered_after_the_callback_budget_updates_the_card_by_patch(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feishu_adapter, "CALLBACK_BUDGET_SECONDS", 0.2)
    bot = make_echo_bot(store)
    echo = bot.dispatcher._handler
    release = asyncio.Event()

    async def slow(event: InboundEvent, responder: Responder) -> None:
        if isinstance(event, CardActionEvent):
            await release.wait()  # the bot is busy past Feishu's answer window
        await echo(event, responder)

    bot.dispatcher._handler = slow
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("status")
    (card,) = await feishu_gateway.wait_sent(1)
    answer = await feishu_gateway.click(card, "again")
    assert answer == {}  # the callback was answered empty, in time
    release.set()
    await feishu_gateway.wait_calls("PATCH", f"/open-apis/im/v1/messages/{card.message_id}")
    assert card.title == "clicked: status"
    (_card, toast) = await feishu_gateway.wait_sent(2)  # the late toast became a plain message
    assert toast.msg_type == "text" and toast.text == "clicked again"


async def test_a_forged_button_payload_is_refused_with_a_toast_and_changes_nothing(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("status")
    (card,) = await feishu_gateway.wait_sent(1)
    payload = card.button("again")["behaviors"][0]["value"]["p"]
    body, mac = payload.split(".")
    forged = body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    answer = await feishu_gateway.click(card, "again", value={"p": forged})
    assert answer["toast"]["content"] == "refused: forged" and "card" not in answer
    await feishu_gateway.quiet()
    assert len(card.versions) == 1 and feishu_gateway.calls_to("PATCH", "/open-apis/im/v1/messages") == []


async def test_a_payload_from_another_chat_is_refused(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("status", chat_id="oc_other")
    await feishu_gateway.say("status", chat_id="oc_group_1")
    other, mine = await feishu_gateway.wait_sent(2)
    if other.chat_id != "oc_other":
        other, mine = mine, other
    foreign = other.button("again")["behaviors"][0]["value"]
    answer = await feishu_gateway.click(mine, "again", value=foreign)
    assert answer["toast"]["content"] == "refused: foreign" and len(mine.versions) == 1


async def test_the_same_frame_delivered_twice_gets_one_reply(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    event = feishu_gateway.message_event("once please", message_id="om_in_dup")
    first = await feishu_gateway.push(event, frame_id="f-dup")
    second = await feishu_gateway.push(event, frame_id="f-dup")
    assert first["code"] == second["code"] == 200
    await feishu_gateway.wait_sent(1)
    # A later message in the same chat is handled after the duplicate was dealt with (order is kept per chat).
    await feishu_gateway.say("and this one", message_id="om_in_after")
    _first, after = await feishu_gateway.wait_sent(2)
    assert after.title == "echo: and this one"
    await feishu_gateway.quiet()
    assert len(feishu_gateway.sent()) == 2
    assert [e.text for e in bot.seen if isinstance(e, MessageEvent)] == ["once please", "and this one"]


async def test_after_the_gateway_drops_the_connection_the_bot_reconnects_and_answers(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.drop_connection()
    await feishu_gateway.wait_connected(connections=2)
    await feishu_gateway.say("still there?")
    (reply,) = await feishu_gateway.wait_sent(1)
    assert reply.title == "echo: still there?"


async def test_a_rich_text_post_that_mentions_the_bot_is_read_as_text(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    event = feishu_gateway.message_event("unused")
    message = event["event"]["message"]
    message["message_type"] = "post"
    post = {
        "title": "",
        "content": [
            [
                {"tag": "at", "user_id": "@_user_1", "user_name": "KubeDuty"},
                {"tag": "text", "text": " pods in "},
                {"tag": "text", "text": "dev"},
            ]
        ],
    }
    message["content"] = json.dumps(post)
    await feishu_gateway.push(event)
    (reply,) = await feishu_gateway.wait_sent(1)
    assert reply.title == "echo: pods in dev"
