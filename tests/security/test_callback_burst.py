"""Feishu card callbacks never wait on the bot: a burst of clicks on one busy conversation is answered at once
(from what the adapter has at hand), and another user's message in another chat is answered meanwhile."""

from __future__ import annotations

import asyncio

from bot.core.events import CardActionEvent, InboundEvent, MessageEvent
from bot.core.responder import Responder
from bot.store import Store
from tests.channels.conftest import Serve, make_echo_bot, platform_settings
from tests.channels.emulators.feishu import FeishuEmulator

BURST = 12


async def test_a_click_burst_on_a_stuck_conversation_does_not_hold_another_chats_answer(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    bot = make_echo_bot(store)
    echo = bot.dispatcher._handler
    stuck = asyncio.Event()  # the busy conversation's clicks wait on this until the other chat was answered

    async def handler(event: InboundEvent, responder: Responder) -> None:
        if isinstance(event, CardActionEvent) and event.conversation.chat_id == "oc_busy":
            await stuck.wait()
        await echo(event, responder)

    bot.dispatcher._handler = handler
    gw = feishu_gateway
    await serve_bot(platform_settings(feishu=gw), bot)
    await gw.wait_connected()
    await gw.say("busy status", chat_id="oc_busy", message_id="om_in_busy")
    (card,) = await gw.wait_sent(1)

    # The burst: every callback is answered while the bot has not handled any of these clicks yet.
    answers = await asyncio.gather(*(gw.click(card, "again") for _ in range(BURST)))
    assert all(a == {"toast": {"type": "info", "content": "Working on it…"}} for a in answers), answers

    # Another user in another chat, during the attack: answered although the busy chat is still stuck.
    await gw.say("hello from elsewhere", chat_id="oc_other_team", user="ou_bob", message_id="om_in_other")
    _card, other = await gw.wait_sent(2)
    assert other.chat_id == "oc_other_team" and other.title == "echo: hello from elsewhere"
    assert not any(isinstance(e, CardActionEvent) for e in bot.seen)  # the busy chat really was still stuck

    stuck.set()  # the busy chat catches up: its card is updated by PATCH, never through the old callbacks
    await gw.wait_calls("PATCH", f"/open-apis/im/v1/messages/{card.message_id}")
    assert [e.text for e in bot.seen if isinstance(e, MessageEvent)] == ["busy status", "hello from elsewhere"]
