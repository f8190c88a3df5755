"""The DingTalk adapter with the real `dingtalk-stream` SDK against the local gateway emulator.

Cards are advanced message cards (template + createAndDeliver, callbackType STREAM): the only kind whose clicks
DingTalk delivers over the Stream connection (see the emulator's docstring for the sources)."""

from __future__ import annotations

import json

from bot.channels.people import People
from bot.core.events import Platform
from bot.render import names
from bot.store import Store
from tests.channels.conftest import Serve, make_echo_bot, platform_settings
from tests.channels.emulators.dingtalk import (
    CARD_INSTANCES,
    CARD_TOPIC,
    CREATE_AND_DELIVER,
    MESSAGE_TOPIC,
    DingTalkEmulator,
)


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
    assert dingtalk_gateway.calls_to("PUT", CARD_INSTANCES) == [] and len(card.versions) == 1


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


async def test_a_card_is_created_from_the_configured_template_with_stream_callbacks_and_string_data(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("hi there")
    (card,) = await dingtalk_gateway.wait_cards(1)
    (call,) = dingtalk_gateway.calls_to("POST", CREATE_AND_DELIVER)
    body = call.body
    assert body["cardTemplateId"] == dingtalk_gateway.template_id and body["callbackType"] == "STREAM"
    assert body["openSpaceId"] == "dtv1.card//IM_GROUP.cid-group-1"
    assert body["imGroupOpenDeliverModel"]["robotCode"] == dingtalk_gateway.client_id
    assert body["outTrackId"] == card.out_track_id
    assert all(isinstance(v, str) for v in body["cardData"]["cardParamMap"].values())
    assert dingtalk_gateway.refused == []


async def test_a_direct_message_card_goes_to_the_users_robot_chat_and_its_click_comes_back(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("dm status", group=False, conversation_id="cid-dm-bob", user_id="staff-bob")
    (card,) = await dingtalk_gateway.wait_cards(1)
    body = dingtalk_gateway.calls_to("POST", CREATE_AND_DELIVER)[0].body
    assert body["openSpaceId"] == "dtv1.card//IM_ROBOT.staff-bob" and "imGroupOpenDeliverModel" not in body
    await dingtalk_gateway.click(card, "again", user_id="staff-bob")
    await dingtalk_gateway.wait_updates(1)
    assert "clicked: dm status" in card.title
    await dingtalk_gateway.wait_calls("POST", "/v1.0/robot/oToMessages/batchSend")
    assert dingtalk_gateway.texts[-1]["userIds"] == ["staff-bob"]


async def test_a_callback_without_our_button_params_is_acked_and_changes_nothing(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("status")
    (card,) = await dingtalk_gateway.wait_cards(1)
    content = {"cardPrivateData": {"actionIds": ["someone_elses"], "params": {"action": "agree"}}}
    data = {"userId": "staff-alice", "outTrackId": card.out_track_id, "content": json.dumps(content)}
    ack = await dingtalk_gateway.push(CARD_TOPIC, data)
    assert ack["code"] == 200
    await dingtalk_gateway.quiet()
    assert dingtalk_gateway.calls_to("PUT", CARD_INSTANCES) == [] and dingtalk_gateway.texts == []
    assert [e.text for e in bot.seen] == ["status"]  # type: ignore[union-attr]


async def test_without_a_card_template_the_reply_is_a_markdown_message_and_no_card(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway, dingtalk_card_template_id=None), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("plain please")
    (call,) = await dingtalk_gateway.wait_calls("POST", "/v1.0/robot/groupMessages/send")
    assert call.body["msgKey"] == "sampleMarkdown" and call.body["openConversationId"] == "cid-group-1"
    assert "echo: plain please" in dingtalk_gateway.texts[-1]["text"]
    await dingtalk_gateway.quiet()
    assert dingtalk_gateway.calls_to("POST", CREATE_AND_DELIVER) == [] and dingtalk_gateway.sent_cards() == []


async def test_a_click_by_a_non_staff_identity_is_refused_with_a_notice_and_changes_nothing(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("status")
    (card,) = await dingtalk_gateway.wait_cards(1)
    ack = await dingtalk_gateway.click(card, "again", user_id="union-123", user_id_type=2)
    assert ack["code"] == 200
    await dingtalk_gateway.wait_calls("POST", "/v1.0/robot/groupMessages/send")
    assert "Only members of this organisation" in dingtalk_gateway.texts[-1]["text"]
    await dingtalk_gateway.quiet()
    assert dingtalk_gateway.calls_to("PUT", CARD_INSTANCES) == [] and len(card.versions) == 1


async def test_a_sender_without_a_staff_id_gets_an_identity_that_cannot_equal_a_staff_id(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("hello", user_id="staff-alice", staff=False)
    await dingtalk_gateway.wait_cards(1)
    (event,) = bot.seen  # type: ignore[attr-defined]
    assert event.sender.user_id.startswith("ext-") and event.sender.user_id != "staff-alice"


async def test_the_senders_nick_becomes_their_name_on_cards_and_is_cached_for_card_clicks(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    names.forget_all()
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(dingtalk=dingtalk_gateway), bot)
    await dingtalk_gateway.wait_connected()
    await dingtalk_gateway.say("hi", user_id="staff-lin", nick="林  工")
    await dingtalk_gateway.wait_cards(1)
    assert names.display("dingtalk:staff-lin") == "林 工"
    names.forget_all()  # another replica, where this person only clicks: the name comes from Redis
    assert await People(Platform.DINGTALK, store).learn("staff-lin") == "林 工"
    assert names.display("dingtalk:staff-lin") == "林 工"
