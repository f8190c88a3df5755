from __future__ import annotations

import asyncio

from bot.core.dispatcher import Dispatcher
from bot.core.events import Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render.model import Card, Markdown
from bot.store import Store


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
    assert await dispatcher.submit(message("m1", "hello"), rec)
    assert not await dispatcher.submit(message("m1", "hello"), rec)
    await dispatcher.drain()
    assert seen == ["hello"]
    await tracker.close()


async def test_a_second_replica_also_drops_a_frame_the_first_took(store: Store) -> None:
    seen: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        seen.append(event.event_id)

    replicas = [Dispatcher(store=store, handler=handler, tracker=TaskTracker()) for _ in range(2)]
    taken = await asyncio.gather(*(d.submit(message("m-shared", "hi"), Recorder()) for d in replicas))
    for d in replicas:
        await d.drain()
    assert sorted(taken) == [False, True] and seen == ["m-shared"]


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
