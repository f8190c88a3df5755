"""The DingTalk adapter with the real `dingtalk-stream` SDK against the local gateway emulator."""

from __future__ import annotations

import json

from bot.store import Store
from tests.channels.conftest import Serve, make_echo_bot, platform_settings
from tests.channels.emulators.dingtalk import MESSAGE_TOPIC, DingTalkEmulator


async def test_a_group_message_that_mentions_the_bot_gets_a_card_reply_in_that_group(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    ack = await dingtalk_gateway.say("hi there", group=True, at_bot=True)
    assert ack["code"] == 200
    (card,) = await dingtalk_gateway.wait_cards(1)
    assert card.conversation_id == "cid-group-1" and card.user_id is None
    assert "echo: hi there" in card.title
    assert card.button("again")["params"]["cid"] == "cid-group-1"
    assert bot.started


async def test_a_group_message_without_a_mention_is_acked_and_ignored(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    ack = await dingtalk_gateway.say("just chatting", group=True, at_bot=False)
    assert ack["code"] == 200
    await dingtalk_gateway.say("/help", group=True, at_bot=False)  # a command is answered even unmentioned
    (card,) = await dingtalk_gateway.wait_cards(1)
    await dingtalk_gateway.quiet()
    assert [c.title for c in dingtalk_gateway.sent_cards()] == [card.title]
    assert "/help" in card.title and [e.text for e in bot.seen] == ["/help"]  # type: ignore[union-attr]


async def test_a_direct_message_is_answered_to_the_user_without_a_mention(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("hello", group=False, conversation_id="cid-dm-bob", user_id="staff-bob")
    (card,) = await dingtalk_gateway.wait_cards(1)
    assert card.user_id == "staff-bob" and card.conversation_id is None
    assert card.title.endswith("echo: hello")


async def test_a_button_click_updates_the_card_in_place_and_says_so(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("deploy status")
    (card,) = await dingtalk_gateway.wait_cards(1)
    ack = await dingtalk_gateway.click(card, "again")
    assert ack["code"] == 200
    await dingtalk_gateway.wait_updates(1)
    assert "clicked: deploy status" in card.title and len(card.versions) == 2
    await dingtalk_gateway.wait_calls("POST", "/v1.0/robot/groupMessages/send")
    assert dingtalk_gateway.texts[-1]["text"] == "clicked again"


async def test_a_forged_button_payload_is_refused_and_changes_nothing(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("status")
    (card,) = await dingtalk_gateway.wait_cards(1)
    params = dict(card.button("again")["params"])
    body, mac = params["p"].split(".")
    params["p"] = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    await dingtalk_gateway.click(card, "again", params=params)
    await dingtalk_gateway.wait_calls("POST", "/v1.0/robot/groupMessages/send")
    assert dingtalk_gateway.texts[-1]["text"].startswith("refused")
    await dingtalk_gateway.quiet()
    assert dingtalk_gateway.calls_to("PUT", "/v1.0/im/robots/interactiveCards") == [] and len(card.versions) == 1


async def test_the_same_frame_delivered_twice_gets_one_reply(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    data = dingtalk_gateway.message_data("once please", msg_id="msg-dup-1")
    first = await dingtalk_gateway.push(MESSAGE_TOPIC, data, message_id="frame-dup-1")
    second = await dingtalk_gateway.push(MESSAGE_TOPIC, data, message_id="frame-dup-1")
    assert first["code"] == second["code"] == 200  # both acked, so DingTalk stops redelivering
    await dingtalk_gateway.wait_cards(1)
    await dingtalk_gateway.quiet()
    assert len(dingtalk_gateway.sent_cards()) == 1 and len(bot.seen) == 1


async def test_after_the_gateway_drops_the_connection_the_bot_reconnects_and_answers(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.drop_connection()
    await dingtalk_gateway.wait_connected(connections=2)
    assert len(dingtalk_gateway.tickets) >= 2  # a fresh ticket for the new connection
    await dingtalk_gateway.say("still there?")
    (card,) = await dingtalk_gateway.wait_cards(1)
    assert "still there?" in card.title
    assert json.dumps(dingtalk_gateway.subscriptions).count("/v1.0/card/instances/callback") == 1
