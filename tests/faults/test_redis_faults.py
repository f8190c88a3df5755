"""Redis faults injected for real: the redis-server process killed and restarted, a TCP proxy that stalls, a
Sentinel failover, a Redis Cluster. The dispatcher must answer every message: handled as soon as Redis is back,
or explicitly reported as not handled; never silence, never a traceback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from bot.core.dispatcher import Dispatcher, Handler
from bot.core.events import Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render.model import Card
from bot.store import ClientOptions, Store, StoreUnavailable, open_store
from tests.support.redis_topology import Cluster, SentinelSetup, Server, single_server
from tests.support.tcp_proxy import PASS, STALL, TcpProxy

FAST = ClientOptions(max_connections=20, pool_timeout=30, socket_timeout=2, connect_timeout=2)


class Recorder:
    def __init__(self) -> None:
        self.cards: list[Card] = []

    async def send(self, card: Card) -> str | None:
        self.cards.append(card)
        return str(len(self.cards))

    async def update(self, ref: str, card: Card) -> None:
        self.cards.append(card)

    async def toast(self, text: str) -> None:
        self.cards.append(Card(title=f"toast: {text}"))

    @property
    def titles(self) -> list[str]:
        return [c.title for c in self.cards]


def message(event_id: str, text: str, user: str = "u1", chat: str = "c1") -> MessageEvent:
    return MessageEvent(event_id, Conversation(Platform.FEISHU, chat, True), Sender(user), text)


def conversation_handler(store: Store) -> tuple[list[str], Handler]:
    """What a turn does with the store: lock, load, save; then answer."""
    answered: list[str] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        assert isinstance(event, MessageEvent)
        key = f"{event.conversation.chat_key}:{event.sender.user_id}"
        async with store.lock(store.keys.conv_lock(key), ttl=30, wait=30):
            state = await store.get_json(store.keys.state(key)) or {"n": 0}
            state["n"] += 1
            await store.set_json(store.keys.state(key), state, ttl=300)
        answered.append(event.text)
        await responder.send(Card(title=f"answer: {event.text}"))

    return answered, handler


async def wait_for(what: str, check: Callable[[], bool], within: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def own_redis() -> Iterator[Server]:
    """A redis-server of this test's own, so killing it disturbs nobody else."""
    srv = single_server()
    yield srv
    srv.stop()


@pytest.fixture
async def own_store(own_redis: Server) -> AsyncIterator[Store]:
    st = open_store(own_redis.url, prefix=f"kdfault-{uuid.uuid4().hex[:8]}", options=FAST, retries=1)
    yield st
    await st.close()


async def test_a_message_sent_while_redis_is_down_is_announced_and_answered_once_redis_is_back(
    own_redis: Server, own_store: Store
) -> None:
    answered, handler = conversation_handler(own_store)
    dispatcher = Dispatcher(store=own_store, handler=handler, tracker=TaskTracker(), outage_retry_seconds=300)
    rec = Recorder()
    await dispatcher.submit(message("before", "first"), rec)
    await dispatcher.drain()
    assert rec.titles == ["answer: first"]

    own_redis.kill()
    await dispatcher.submit(message("during", "second"), rec)
    await wait_for("the storage notice", lambda: "Storage is unavailable" in rec.titles)
    assert answered == ["first"]
    own_redis.start()  # same port, empty data (no persistence): the turn starts afresh
    await dispatcher.drain()
    assert rec.titles == ["answer: first", "Storage is unavailable", "answer: second"]
    assert answered == ["first", "second"]


async def test_when_redis_stays_down_the_message_is_reported_as_not_handled(
    own_redis: Server, own_store: Store
) -> None:
    answered, handler = conversation_handler(own_store)
    dispatcher = Dispatcher(store=own_store, handler=handler, tracker=TaskTracker(), outage_retry_seconds=4)
    rec = Recorder()
    own_redis.kill()
    await dispatcher.submit(message("lost?", "你好，看一下 pod"), rec)
    await dispatcher.drain()
    assert rec.titles == ["存储暂时不可用", "这条消息没有处理"]
    assert answered == []


async def test_a_stalled_connection_times_out_into_a_notice_and_the_message_is_answered_after(
    own_redis: Server,
) -> None:
    proxy = await TcpProxy("127.0.0.1", own_redis.port).start()
    store = open_store(f"redis://127.0.0.1:{proxy.port}/0", prefix="kdstall", options=FAST, retries=0)
    try:
        answered, handler = conversation_handler(store)
        dispatcher = Dispatcher(store=store, handler=handler, tracker=TaskTracker(), outage_retry_seconds=300)
        rec = Recorder()
        proxy.set_mode(STALL)
        await dispatcher.submit(message("s1", "during the stall"), rec)
        await wait_for("the storage notice", lambda: "Storage is unavailable" in rec.titles)
        proxy.set_mode(PASS)
        proxy.reset()  # the stalled connections are dead to the client anyway
        await dispatcher.drain()
        assert rec.titles == ["Storage is unavailable", "answer: during the stall"]
        assert answered == ["during the stall"]
    finally:
        await store.close()
        await proxy.close()


async def test_store_errors_reach_callers_as_store_unavailable_never_as_redis_exceptions(own_redis: Server) -> None:
    store = open_store(own_redis.url, prefix="kdx", options=FAST, retries=0)
    own_redis.kill()
    try:
        for op in (
            store.get_json(store.keys.state("a")),
            store.set_json(store.keys.state("a"), {}, ttl=5),
            store.first_seen(store.keys.seen("e"), ttl=5),
            store.create_record(store.keys.approval("r"), {"status": "pending"}, ttl=5),
            store.transition(store.keys.approval("r"), "pending", "approved", ttl=5),
        ):
            with pytest.raises(StoreUnavailable):
                await op
        # cache entries are best effort: a miss and a skipped write, no error
        assert await store.get_json(store.keys.cache("pods", "dev")) is None
        await store.set_json(store.keys.cache("pods", "dev"), [1], ttl=5)
        assert not await store.ping()
    finally:
        await store.close()


async def test_a_sentinel_failover_mid_traffic_is_followed_without_a_restart(redis_sentinel: SentinelSetup) -> None:
    store = open_store(redis_sentinel.url, prefix=f"kdfo-{uuid.uuid4().hex[:8]}", options=FAST, retries=3)
    try:
        answered, handler = conversation_handler(store)
        dispatcher = Dispatcher(store=store, handler=handler, tracker=TaskTracker(), outage_retry_seconds=300)
        recs = [Recorder() for _ in range(6)]
        for i, rec in enumerate(recs[:3]):
            await dispatcher.submit(message(f"pre{i}", f"pre{i}", user=f"u{i}"), rec)
        await dispatcher.drain()
        old = redis_sentinel.master_port()
        new = await asyncio.to_thread(redis_sentinel.failover)
        assert new != old
        for i, rec in enumerate(recs[3:]):
            await dispatcher.submit(message(f"post{i}", f"post{i}", user=f"u{i}"), rec)
        await dispatcher.drain()
        assert sorted(answered) == sorted([f"pre{i}" for i in range(3)] + [f"post{i}" for i in range(3)])
        # writes land on the new master (no ReadOnlyError loop), and the state written before is still there
        key = "feishu:c1:u0"
        assert (await store.get_json(store.keys.state(key)) or {}).get("n") == 2
        await store.set_json(store.keys.state("after"), {"ok": 1}, ttl=60)
    finally:
        await store.delete_pattern(f"{store.keys.prefix}:*")
        await store.close()
        await asyncio.to_thread(redis_sentinel.wait_replica_synced)


async def test_every_message_is_answered_on_a_redis_cluster(redis_cluster: Cluster) -> None:
    store = open_store(redis_cluster.url, prefix=f"kdcl-{uuid.uuid4().hex[:8]}", options=FAST)
    try:
        answered, handler = conversation_handler(store)
        dispatcher = Dispatcher(store=store, handler=handler, tracker=TaskTracker())
        recs = [Recorder() for _ in range(30)]
        for i, rec in enumerate(recs):
            await dispatcher.submit(message(f"cl{i}", f"m{i}", user=f"u{i}", chat=f"chat{i % 7}"), rec)
        await dispatcher.drain()
        assert sorted(answered) == sorted(f"m{i}" for i in range(30))
        assert all(rec.titles == [f"answer: m{i}"] for i, rec in enumerate(recs))
    finally:
        await store.delete_pattern(f"{store.keys.prefix}:*")
        await store.close()
