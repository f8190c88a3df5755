from __future__ import annotations

import asyncio
import uuid

from bot.core.dispatcher import Dispatcher
from bot.core.events import Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.ratelimit import Rate, RateLimiter
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render.model import Card, Markdown
from bot.store import ClientOptions, Store, open_store
from tests.support.redis_topology import free_port


class Recorder:
    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.toasts: list[str] = []

    async def send(self, card: Card) -> str | None:
        self.cards.append(card)
        return str(len(self.cards))

    async def update(self, ref: str, card: Card) -> None:
        self.cards.append(card)

    async def toast(self, text: str) -> None:
        self.toasts.append(text)


def message(event_id: str, text: str, user: str = "u1", chat: str = "c1") -> MessageEvent:
    return MessageEvent(event_id, Conversation(Platform.FEISHU, chat, True), Sender(user), text)


async def test_a_redelivered_frame_is_handled_once(store: Store) -> None:
    seen: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        assert isinstance(event, MessageEvent)
        seen.append(event.text)

    tracker = TaskTracker()
    dispatcher = Dispatcher(store=store, handler=handler, tracker=tracker)
    rec = Recorder()
    await dispatcher.submit(message("m1", "hello"), rec)
    await dispatcher.submit(message("m1", "hello"), rec)
    await dispatcher.drain()
    assert seen == ["hello"]
    await tracker.close()


async def test_a_second_replica_also_drops_a_frame_the_first_took(store: Store) -> None:
    seen: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        seen.append(event.event_id)

    replicas = [Dispatcher(store=store, handler=handler, tracker=TaskTracker()) for _ in range(2)]
    await asyncio.gather(*(d.submit(message("m-shared", "hi"), Recorder()) for d in replicas))
    for d in replicas:
        await d.drain()
    assert seen == ["m-shared"]


async def test_messages_in_one_conversation_are_handled_in_order_while_others_run_in_parallel(store: Store) -> None:
    log: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        assert isinstance(event, MessageEvent)
        await asyncio.sleep(0.02 if event.text.endswith("1") else 0)
        log.append(f"{event.sender.user_id}:{event.text}")

    dispatcher = Dispatcher(store=store, handler=handler, tracker=TaskTracker())
    for i in range(1, 4):
        await dispatcher.submit(message(f"a{i}", f"m{i}", user="alice"), Recorder())
        await dispatcher.submit(message(f"b{i}", f"m{i}", user="bob"), Recorder())
    await dispatcher.drain()
    assert [x for x in log if x.startswith("alice")] == ["alice:m1", "alice:m2", "alice:m3"]
    assert [x for x in log if x.startswith("bob")] == ["bob:m1", "bob:m2", "bob:m3"]


async def test_a_failing_handler_gives_a_friendly_card_without_a_stack_trace_and_keeps_serving(store: Store) -> None:
    async def handler(event: InboundEvent, responder: Responder) -> None:
        assert isinstance(event, MessageEvent)
        if event.text == "boom":
            raise RuntimeError("secret internal detail")
        await responder.send(Card(title="ok"))

    dispatcher = Dispatcher(store=store, handler=handler, tracker=TaskTracker())
    rec = Recorder()
    await dispatcher.submit(message("x1", "boom"), rec)
    await dispatcher.submit(message("x2", "next"), rec)
    await dispatcher.drain()
    assert [c.title for c in rec.cards] == ["Something went wrong", "ok"]
    body = " ".join(b.text for b in rec.cards[0].blocks if isinstance(b, Markdown))
    assert "secret internal detail" not in body and "Traceback" not in body and "nothing in the cluster" in body


async def test_a_slow_conversation_does_not_hold_up_another_one(store: Store) -> None:
    # alice's first message waits until bob's message has been handled: only parallel workers can finish this.
    bob_done = asyncio.Event()
    log: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        assert isinstance(event, MessageEvent)
        if event.sender.user_id == "alice":
            await asyncio.wait_for(bob_done.wait(), 10)
        else:
            bob_done.set()
        log.append(f"{event.sender.user_id}:{event.text}")

    dispatcher = Dispatcher(store=store, handler=handler, tracker=TaskTracker())
    await dispatcher.submit(message("p1", "slow", user="alice", chat="c-alice"), Recorder())
    await dispatcher.submit(message("p2", "quick", user="bob", chat="c-bob"), Recorder())
    await dispatcher.drain()
    assert log == ["bob:quick", "alice:slow"]


async def test_the_dedupe_check_fails_open_when_redis_cannot_be_reached() -> None:
    # a real client on a loopback port nobody listens on: connection refused, as when Redis is down
    dead = open_store(f"redis://127.0.0.1:{free_port()}/0", options=ClientOptions(connect_timeout=2), retries=0)
    seen: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        assert isinstance(event, MessageEvent)
        seen.append(event.text)
        await responder.send(Card(title="answer"))

    dispatcher = Dispatcher(store=dead, handler=handler, tracker=TaskTracker())
    rec = Recorder()
    await dispatcher.submit(message("d1", "still answered"), rec)
    await dispatcher.drain()
    await dead.close()
    assert seen == ["still answered"] and [c.title for c in rec.cards] == ["answer"]


async def test_a_burst_from_one_user_is_answered_with_one_slow_down_notice_and_other_chats_still_get_through(
    store: Store,
) -> None:
    handled: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        assert isinstance(event, MessageEvent)
        await store.set_json(store.keys.state(event.sender.user_id), {"n": event.text}, ttl=60)
        handled.append(f"{event.sender.user_id}:{event.text}")
        await responder.send(Card(title=f"re {event.text}"))

    limiter = RateLimiter(user=Rate(30, burst=10), chat=Rate(90, burst=30))
    dispatcher = Dispatcher(store=store, handler=handler, tracker=TaskTracker(), limiter=limiter)
    flood, calm = Recorder(), Recorder()
    taken = [
        await dispatcher.submit(message(f"f{i}", f"m{i}", user="mallory", chat="c-busy"), flood) for i in range(500)
    ]
    assert await dispatcher.submit(message("o1", "hello", user="olivia", chat="c-other"), calm)
    await dispatcher.drain()
    accepted = taken.count(True)
    assert 1 <= accepted <= 11  # the burst, plus at most a token refilled meanwhile
    assert len([h for h in handled if h.startswith("mallory:")]) == accepted
    slow = [c for c in flood.cards if c.title == "Please slow down"]
    assert len(slow) == 1, [c.title for c in flood.cards]
    assert "too fast" in " ".join(b.text for b in slow[0].blocks if isinstance(b, Markdown))
    assert "olivia:hello" in handled and [c.title for c in calm.cards] == ["re hello"]


async def test_the_slow_down_notice_follows_the_language_of_the_message(store: Store) -> None:
    async def handler(event: InboundEvent, responder: Responder) -> None:
        await responder.send(Card(title="ok"))

    limiter = RateLimiter(user=Rate(1, burst=1), chat=Rate(100, burst=100))
    dispatcher = Dispatcher(store=store, handler=handler, tracker=TaskTracker(), limiter=limiter)
    rec = Recorder()
    for i in range(3):
        await dispatcher.submit(message(f"z{i}", f"帮我看一下日志 {i}", user="wang"), rec)
    await dispatcher.drain()
    for _ in range(100):  # the notice is sent by a background task: wait for it
        if len(rec.cards) >= 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(c.title for c in rec.cards) == sorted(["ok", "请慢一点"])


async def test_a_hundred_busy_conversations_share_a_small_pool_without_errors(redis_url: str) -> None:
    prefix = f"kdtest-{uuid.uuid4().hex[:10]}"
    small = open_store(redis_url, prefix=prefix, options=ClientOptions(max_connections=4, pool_timeout=60))
    answered: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        assert isinstance(event, MessageEvent)
        key = small.keys.state(event.sender.user_id)
        for i in range(5):
            await small.set_json(key, {"i": i}, ttl=60)
            await small.get_json(key)
        async with small.lock(small.keys.conv_lock(event.sender.user_id), wait=30):
            await responder.send(Card(title="ok"))
        answered.append(event.sender.user_id)

    dispatcher = Dispatcher(store=small, handler=handler, tracker=TaskTracker())
    recs = [Recorder() for _ in range(100)]
    for i, rec in enumerate(recs):
        await dispatcher.submit(message(f"busy{i}", "hi", user=f"u{i}", chat=f"c{i}"), rec)
    await dispatcher.drain()
    await small.delete_pattern(f"{prefix}:*")
    await small.close()
    assert sorted(answered) == sorted(f"u{i}" for i in range(100))
    assert all([c.title for c in rec.cards] == ["ok"] for rec in recs)
