"""The Feishu adapter with the real `lark-oapi` SDK (ws client + OpenAPI client) against the local emulator."""

from __future__ import annotations

import asyncio
import json

from bot.channels.people import NAME_TTL, People
from bot.core.actions import Action, ActionCodec
from bot.core.cards import TRUNCATED_EN, TRUNCATED_ZH
from bot.core.dispatcher import Dispatcher
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent, Platform
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render import names
from bot.render.feishu import render_feishu, wire_size
from bot.render.model import Button, Card, Code
from bot.render.templates import json_size
from bot.store import Store
from tests.channels.conftest import EchoBot, Serve, make_echo_bot, platform_settings
from tests.channels.emulators.feishu import MAX_CARD_BODY_BYTES, FeishuEmulator


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


async def test_a_button_click_is_answered_at_once_and_the_card_is_updated_by_patch(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("deploy status")
    (card,) = await feishu_gateway.wait_sent(1)
    answer = await feishu_gateway.click(card, "again")
    # the SDK thread never waits on the bot: the callback says "working" in the chat's language, nothing more
    assert answer == {"toast": {"type": "info", "content": "Working on it…"}}
    await feishu_gateway.wait_calls("PATCH", f"/open-apis/im/v1/messages/{card.message_id}")
    assert card.title == "clicked: deploy status" and len(card.versions) == 2
    (_card, toast) = await feishu_gateway.wait_sent(2)  # the bot's own toast came later, as a plain message
    assert toast.msg_type == "text" and toast.text == "clicked again"


async def test_a_click_on_a_busy_conversation_is_answered_at_once_and_the_card_follows_when_the_bot_is_done(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
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
    assert answer["toast"]["content"] == "Working on it…"  # answered while the bot is still busy
    release.set()
    await feishu_gateway.wait_calls("PATCH", f"/open-apis/im/v1/messages/{card.message_id}")
    assert card.title == "clicked: status"


async def test_a_forged_button_payload_is_refused_in_the_callback_and_never_reaches_the_bot(
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
    assert answer == {"toast": {"type": "error", "content": "Invalid button data (bad signature); ignored."}}
    await feishu_gateway.quiet()
    assert len(card.versions) == 1 and feishu_gateway.calls_to("PATCH", "/open-apis/im/v1/messages") == []
    assert not any(isinstance(e, CardActionEvent) for e in bot.seen)


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
    assert answer["toast"]["content"] == "This button belongs to another chat." and len(mine.versions) == 1


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


async def test_a_senders_name_comes_from_the_contact_api_once_and_is_cached_in_redis(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    names.forget_all()
    feishu_gateway.users["ou_alice"] = "Alice Zhang"
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("one", group=False, chat_id="oc_dm_alice", user="ou_alice")
    await feishu_gateway.say("two", group=False, chat_id="oc_dm_alice", user="ou_alice")
    await feishu_gateway.say("three", group=False, chat_id="oc_dm_dan", user="ou_dan")  # outside the contact scope
    await feishu_gateway.wait_sent(3)
    assert names.display("feishu:ou_alice") == "Alice Zhang"
    assert names.display("feishu:ou_dan") == "feishu:ou_dan"  # the id, not a guess
    assert feishu_gateway.contact_lookups.count("ou_alice") == 1
    names.forget_all()  # another replica: the name comes from Redis, not from the API again
    assert await People(Platform.FEISHU, store).learn("ou_alice") == "Alice Zhang"
    assert feishu_gateway.contact_lookups.count("ou_alice") == 1
    assert 0 < await store.ttl(store.keys.cache("people", "feishu:ou_alice")) <= NAME_TTL


def quote_heavy_card() -> Card:
    # JSON log lines: every `"` is escaped once in the card JSON and again in the request body
    lines = [f'{{"level":"info","msg":"GET \\"/api/items/{i}\\" ok","trace":"{i:08x}","ok":"yes"}}' for i in range(248)]
    blocks = tuple(Code("\n".join(lines[k : k + 62])) for k in range(0, len(lines), 62))
    return Card(title="logs", blocks=blocks, buttons=(Button("again", Action("again", {})),))


async def test_a_quote_heavy_card_is_sized_on_the_wire_so_feishu_accepts_it_with_a_visible_marker(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    codec = ActionCodec("channel-test-secret", ttl_seconds=600)
    card = quote_heavy_card()
    # the old check: compact card JSON under 28,000 bytes passed a card whose body on the wire is far over 30 KB
    old = render_feishu(card, sign=lambda _a: "p" * 200, max_bytes=10**6)  # the first, loosest rendering
    assert json_size(old) <= 28_000 < MAX_CARD_BODY_BYTES < wire_size(old)

    async def handler(event: InboundEvent, responder: Responder) -> None:
        await responder.send(card)

    tracker = TaskTracker()
    bot = EchoBot(Dispatcher(store=store, handler=handler, tracker=tracker), codec, tracker, [], store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("logs please", group=False, chat_id="oc_dm_q", user="ou_q")
    (reply,) = await feishu_gateway.wait_sent(1)  # the emulator refuses any body over 30,000 bytes
    assert 0 < feishu_gateway.body_sizes[-1] <= MAX_CARD_BODY_BYTES
    assert TRUNCATED_EN.strip(" .…()") in reply.text or TRUNCATED_ZH.strip(" .…（）") in reply.text
    assert "ok" in reply.text and reply.buttons()  # cut, not dropped: the newest lines and the button remain


async def test_a_click_on_an_older_english_card_is_answered_in_english_after_the_chat_turned_chinese(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    await serve_bot(platform_settings(feishu=feishu_gateway), bot)
    await feishu_gateway.wait_connected()
    await feishu_gateway.say("status please")
    (english,) = await feishu_gateway.wait_sent(1)
    await feishu_gateway.say("帮我看看集群状态", user="ou_bob")  # the chat now speaks Chinese
    await feishu_gateway.wait_sent(2)
    value = english.button("again")["behaviors"][0]["value"]
    assert value["l"] == "en"
    body, mac = value["p"].split(".")
    forged = body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    refused = await feishu_gateway.click(english, "again", user="ou_bob", value={**value, "p": forged})
    assert refused == {"toast": {"type": "error", "content": "Invalid button data (bad signature); ignored."}}
    answer = await feishu_gateway.click(english, "again", user="ou_bob")
    assert answer["toast"]["content"] == "Working on it…"
