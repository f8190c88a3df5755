"""A conversation turn in two round trips (dedupe + lock + load, then save + unlock), the in-process copies of
cache entries, and batched stream appends: on one node, a 3-master Cluster, Sentinel and the in-process store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import connection as redis_connection

from bot.store import LockTimeout, Seen, Store, open_store
from bot.store.hotcache import LOCAL_SECONDS, HotCache


@pytest.fixture(params=["redis", "embedded", "cluster", "sentinel"])
async def any_store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Store]:
    prefix = f"kdtest-{uuid.uuid4().hex[:10]}"
    url: str | None = {"redis": redis_url, "embedded": None}.get(request.param)
    if request.param == "cluster":
        url = request.getfixturevalue("redis_cluster").url
    elif request.param == "sentinel":
        url = request.getfixturevalue("redis_sentinel").url
    st = open_store(url, prefix=prefix)
    yield st
    await st.delete_pattern(f"{prefix}:*")
    await st.close()


def turn_keys(store: Store, conv: str, event: str) -> tuple[str, str, Seen]:
    k = store.keys
    return k.conv_lock(conv), k.state(conv), Seen(k.seen(event, conv), uuid.uuid4().hex, 300)


async def test_a_turn_loads_the_saved_state_and_saves_it_back_as_it_releases_the_lock(any_store: Store) -> None:
    lock, state, seen = turn_keys(any_store, "feishu:c:u", "feishu:m-1")
    async with any_store.session(lock, state, seen=seen, ttl=30, wait=1) as first:
        assert not first.duplicate and first.raw is None
        assert await any_store.exists(lock)
        first.save({"greeted": True, "n": 1}, ttl=120)
    assert not await any_store.exists(lock)
    _, _, seen2 = turn_keys(any_store, "feishu:c:u", "feishu:m-2")
    async with any_store.session(lock, state, seen=seen2, wait=1) as second:
        assert second.raw == {"greeted": True, "n": 1}
    assert 0 < await any_store.ttl(state) <= 120


async def test_a_redelivered_event_is_a_duplicate_and_takes_no_lock(any_store: Store) -> None:
    lock, state, seen = turn_keys(any_store, "dingtalk:c:u", "dingtalk:m-9")
    async with any_store.session(lock, state, seen=seen, wait=1) as first:
        assert not first.duplicate
    redelivered = Seen(seen.key, uuid.uuid4().hex, 300)  # another replica, or the same one later
    async with any_store.session(lock, state, seen=redelivered, wait=1) as again:
        assert again.duplicate
        assert not await any_store.exists(lock)
    async with any_store.session(lock, state, seen=seen, wait=1) as retry:  # our own retry is still ours
        assert not retry.duplicate


async def test_concurrent_deliveries_of_one_event_are_handled_exactly_once(any_store: Store) -> None:
    lock, state, seen = turn_keys(any_store, "feishu:c:race", "feishu:m-race")
    handled: list[int] = []

    async def deliver(i: int) -> None:
        async with any_store.session(lock, state, seen=Seen(seen.key, uuid.uuid4().hex, 300), wait=5) as s:
            if not s.duplicate:
                handled.append(i)
                await asyncio.sleep(0.01)

    await asyncio.gather(*(deliver(i) for i in range(10)))
    assert len(handled) == 1


async def test_turns_of_one_conversation_wait_for_each_other_and_a_long_wait_times_out(any_store: Store) -> None:
    lock, state, _ = turn_keys(any_store, "console:c:u", "x")
    order: list[str] = []

    async def turn(name: str) -> None:
        async with any_store.session(lock, state, ttl=5, wait=10) as s:
            order.append(f"{name}-in")
            await asyncio.sleep(0.05)
            order.append(f"{name}-out")
            s.save({"last": name}, ttl=60)

    await asyncio.gather(turn("a"), turn("b"))
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
    assert (await any_store.get_json(state) or {}).get("last") == order[-1].split("-")[0]
    async with any_store.session(lock, state, ttl=5, wait=1):
        with pytest.raises(LockTimeout):
            async with any_store.session(lock, state, ttl=5, wait=0.2):
                pass


async def test_every_key_a_turn_writes_expires(any_store: Store) -> None:
    lock, state, seen = turn_keys(any_store, "feishu:c:ttl", "feishu:m-ttl")
    async with any_store.session(lock, state, seen=seen, ttl=30, wait=1) as s:
        assert 0 < await any_store.ttl(lock) <= 30
        s.save({"a": 1}, ttl=600)
    for key in (state, seen.key):
        assert 0 < await any_store.ttl(key) <= 600, key
    with pytest.raises(ValueError):
        s.save({}, ttl=0)


async def test_a_turn_costs_two_round_trips(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    lock, state, seen = turn_keys(store, "feishu:c:rt", "feishu:m-rt")
    async with store.session(lock, state, wait=1):  # connection set-up outside the count
        pass
    sent: list[Any] = []
    original = redis_connection.AbstractConnection.send_packed_command

    async def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(command)
        await original(self, command, check_health)

    monkeypatch.setattr(redis_connection.AbstractConnection, "send_packed_command", counting)
    async with store.session(lock, state, seen=seen, wait=1) as s:
        s.save({"x": 1}, ttl=60)
    assert len(sent) == 2


async def test_cache_entries_are_served_from_the_process_until_deleted(any_store: Store) -> None:
    key = any_store.keys.cache("list_namespaces", "sandbox")
    await any_store.set_json(key, {"data": ["dev"]}, ttl=30)
    await any_store.flush()
    await any_store._r.delete(key)  # behind the store's back: the copy still answers, for a few seconds at most
    first = await any_store.get_json(key)
    assert first == {"data": ["dev"]}
    first["data"].append("mutated by a caller")  # no caller can change another's copy
    assert await any_store.get_json(key) == {"data": ["dev"]}
    await any_store.set_json(key, {"data": ["dev"]}, ttl=30)
    await any_store.delete_pattern(any_store.keys.cache("list_namespaces", "x").rsplit(":", 1)[0] + ":*")
    assert await any_store.get_json(key) is None


async def test_a_copy_read_from_another_replica_expires_after_a_few_seconds(any_store: Store) -> None:
    key = any_store.keys.cache("list_pods", "dev")
    now = [1000.0]
    any_store.hot = HotCache(clock=lambda: now[0])
    other = Store(any_store._r, any_store.keys, kind=any_store.kind)  # a second replica on the same Redis
    await other.set_json(key, {"data": {"items": []}}, ttl=30)
    await other.flush()  # its write lands a moment later; here, now
    assert await any_store.get_json(key) == {"data": {"items": []}}
    await other.delete(key)  # the other replica's refresh
    now[0] += LOCAL_SECONDS - 0.5
    assert await any_store.get_json(key) == {"data": {"items": []}}  # the copy, still within its time
    now[0] += 1.0
    assert await any_store.get_json(key) is None


async def test_cache_writes_reach_redis_in_one_batch_and_keep_their_ttl(any_store: Store) -> None:
    keys = [any_store.keys.cache("list_pods", f"ns-{i}") for i in range(20)]
    for key in keys:
        await any_store.set_json(key, {"data": key}, ttl=30)
    other = Store(any_store._r, any_store.keys, kind=any_store.kind)
    deadline = asyncio.get_running_loop().time() + 30
    while await other.get_json(keys[-1]) is None:  # another replica sees them once the batch is written
        assert asyncio.get_running_loop().time() < deadline, "the queued cache writes never reached Redis"
        await asyncio.sleep(0.02)
    for key in keys:
        assert await other.get_json(key) == {"data": key}
        assert 0 < await any_store.ttl(key) <= 30


async def test_a_batch_of_stream_entries_lands_in_one_round_trip_with_a_ttl(any_store: Store) -> None:
    key = any_store.keys.custom("audit", "reads")
    await any_store.append_stream_batch(key, [{"n": str(i)} for i in range(25)], maxlen=1000, ttl=600)
    tail = await any_store.read_stream_tail(key, 3)
    assert [e["n"] for e in tail] == ["24", "23", "22"]
    assert 0 < await any_store.ttl(key) <= 600
