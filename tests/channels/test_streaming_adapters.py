"""The adapters' native streams through the real SDKs against the emulators, with a tiny handler instead of the
whole bot: a stream ended by a failure (DingTalk FAILED, Feishu closed with the failure text), a streamed card
updated again after it closed (Feishu: through CardKit, never PATCH), text escaped like card text, and
DingTalk without an AI card template falling back to card edits within the platform's pace."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.actions import Action, ActionCodec
from bot.core.dispatcher import Dispatcher
from bot.core.events import InboundEvent, MessageEvent
from bot.core.i18n import Lang
from bot.core.responder import Responder, open_stream
from bot.core.tasks import TaskTracker
from bot.render.model import Button, Card, Markdown
from bot.store import Store
from tests.channels.conftest import EchoBot, Serve, platform_settings
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator
from tests.channels.test_scenarios_real_bot import eventually

Handler = Callable[[InboundEvent, Responder], Awaitable[None]]


def streaming_bot(store: Store) -> EchoBot:
    """Messages: "fail" streams then fails; "close" streams, closes with a button, then updates the card."""
    codec = ActionCodec("stream-test-secret", ttl_seconds=600)
    seen: list[InboundEvent] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        seen.append(event)
        if not isinstance(event, MessageEvent):
            return
        stream = await open_stream(responder, "Checking…", lang=Lang.EN)
        await stream.push("first line with <at id=all></at> and [a link](http://evil)")
        await stream.push("first line with <at id=all></at> and [a link](http://evil)\nsecond line")
        if event.text.strip() == "fail":
            await stream.fail("the cluster API timed out")
            return
        ref = await stream.close(
            Card(title="Checked", blocks=(Markdown("all fine"),), buttons=(Button("again", Action("again")),))
        )
        assert ref is not None
        await responder.update(ref, Card(title="Checked again", blocks=(Markdown("still fine"),)))

    tracker = TaskTracker()
    return EchoBot(Dispatcher(store=store, handler=handler, tracker=tracker), codec, tracker, seen, store)


# --- Feishu --------------------------------------------------------------------------------------------------


async def test_a_feishu_stream_that_fails_is_closed_showing_the_failure(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    gw = feishu_gateway
    await serve_bot(platform_settings(feishu=gw), streaming_bot(store))
    await gw.wait_connected()
    await gw.say("fail")
    card = await eventually(lambda: next(iter(gw.cardkit.cards.values()), None), "a card entity")
    await eventually(lambda: card if not card.streaming else None, "streaming closed")
    msg = gw.messages[card.message_ids[0]]
    await eventually(lambda: msg if "timed out" in msg.text else None, "the failure on the card")
    assert msg.title == "Failed" and gw.cardkit.refused == []
    gw.cardkit.assert_all_closed()


async def test_a_closed_feishu_stream_gets_its_buttons_and_later_updates_through_cardkit_not_patch(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    gw = feishu_gateway
    await serve_bot(platform_settings(feishu=gw), streaming_bot(store))
    await gw.wait_connected()
    await gw.say("close")
    card = await eventually(lambda: next(iter(gw.cardkit.cards.values()), None), "a card entity")
    msg = await eventually(lambda: gw.messages.get(card.message_ids[0]) if card.message_ids else None, "the message")
    await eventually(lambda: msg if msg.title == "Checked again" else None, "the card updated after it closed")
    assert msg.patches == 0 and gw.cardkit.refused == []
    assert [v["header"]["title"]["content"] for v in msg.versions][-2:] == ["Checked", "Checked again"]
    assert any(b["text"]["content"] == "again" for v in msg.versions[-2:-1] for b in _buttons(v))
    streamed = [v["body"]["elements"][0]["content"] for v in msg.versions if v["config"].get("streaming_mode")]
    assert streamed and all("<at" not in t and "[a link](" not in t for t in streamed)  # escaped like card text
    gw.cardkit.assert_all_closed()


def _buttons(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for el in doc.get("body", {}).get("elements", []):
        for col in el.get("columns", []):
            out += [e for e in col.get("elements", []) if e.get("tag") == "button"]
    return out


# --- DingTalk ------------------------------------------------------------------------------------------------


async def test_a_dingtalk_ai_card_stream_that_fails_is_finalised_in_the_failed_state(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    gw = dingtalk_gateway
    settings = platform_settings(dingtalk=gw, dingtalk_ai_card_template_id=gw.aicard.template_id)
    await serve_bot(settings, streaming_bot(store))
    await gw.wait_connected()
    await gw.say("fail")
    out = await eventually(lambda: next(iter(gw.aicard.streams), None), "an AI card")
    stream = gw.aicard.streams[out]
    await eventually(lambda: stream if stream.ended else None, "the AI card finalised", state=lambda: gw.refused)
    assert stream.status == "5" and stream.error  # FAILED, and the last streaming call said isError
    assert "timed out" in gw.cards[out].text and gw.refused == []
    streamed = [v["markdown"] for v in gw.cards[out].versions]
    assert all("<at" not in t and "[a link](" not in t for t in streamed)  # escaped like card text
    gw.aicard.assert_all_finalized()


async def test_dingtalk_without_an_ai_card_template_streams_by_editing_the_card_at_its_pace(
    store: Store, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    gw = dingtalk_gateway
    await serve_bot(platform_settings(dingtalk=gw), streaming_bot(store))
    await gw.wait_connected()
    await gw.say("close")
    await eventually(
        lambda: (
            gw.sent_cards()[0]
            if gw.sent_cards() and gw.sent_cards()[0].data["lastMessage"] == "Checked again"
            else None
        ),
        "the card closed and updated",
        state=lambda: ([c.versions for c in gw.sent_cards()], gw.refused, gw.texts),
    )
    await asyncio.sleep(0)  # nothing more to wait for: the handler is done
    card = gw.sent_cards()[0]
    assert len(gw.sent_cards()) == 1 and not gw.aicard.streams and gw.refused == []
    titles = [v["lastMessage"] for v in card.versions]
    assert titles[0] == "Checking…" and titles[-2:] == ["Checked", "Checked again"]
    assert len(card.versions) == 3  # pushes within the pace were coalesced into the final card


async def test_another_replica_updates_a_streamed_feishu_card_through_cardkit_with_a_rising_sequence(
    store: Store, redis_url: str
) -> None:
    from bot.channels.feishu.cardkit import LATER_BASE, CardEntities
    from bot.store import open_store

    await CardEntities(store).remember("om_1", "card-1", created=time.time() - 3600, sequence=7)
    await store.flush()  # cache writes are batched; this one is in Redis now
    other = open_store(redis_url, prefix=store.keys.prefix)  # a second replica: its own process memory
    try:
        replica = CardEntities(other)
        first = await replica.next_update("om_1")
        second = await replica.next_update("om_1")
        assert await replica.next_update("om_unknown") is None  # not a card entity: the caller PATCHes
    finally:
        await other.close()
    assert first is not None and second is not None
    assert first[0] == second[0] == "card-1"
    assert LATER_BASE < first[1] < second[1] <= 2**31 - 1


async def test_without_the_cardkit_scope_feishu_streams_fall_back_to_a_patched_card(
    store: Store, feishu_gateway: FeishuEmulator, serve_bot: Serve
) -> None:
    gw = feishu_gateway
    gw.cardkit.scope_granted = False
    await serve_bot(platform_settings(feishu=gw), streaming_bot(store))
    await gw.wait_connected()
    for n in (1, 2):  # the first stream finds out; the second does not even try CardKit
        await gw.say("close")
        await eventually(
            lambda n=n: len([m for m in gw.sent() if m.title == "Checked again"]) == n or None,  # type: ignore[misc]
            f"answer {n} updated in place",
        )
    assert not gw.cardkit.cards and len(gw.cardkit.refused) == 1  # asked once, then left alone
    answers = [m for m in gw.sent() if m.title == "Checked again"]
    assert all(m.patches <= 3 for m in answers)  # far below the 20-edit cap
    assert "Checking…" in [v["header"]["title"]["content"] for v in answers[1].versions]  # progress shown


async def test_the_app_window_never_lets_more_calls_arrive_in_a_second_than_its_limit_even_when_calls_are_slow() -> (
    None
):
    from bot.channels.streaming import RateWindow

    window = RateWindow(per_second=3)
    arrivals: list[float] = []

    async def call(delay: float) -> None:
        async with window.slot():
            await asyncio.sleep(delay)  # a request held up on the way: it arrives late
            arrivals.append(time.monotonic())

    await asyncio.gather(*(call(0.3 if i % 2 else 0.0) for i in range(10)))
    arrivals.sort()
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert len(arrivals) == 10 and busiest <= 3
