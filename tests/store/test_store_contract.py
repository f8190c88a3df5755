"""The store contract, run against real Redis (one node, a 3-master Cluster, a Sentinel-managed master) and
against the in-process store the demo uses by default (which must behave the same, or `make demo` would show
behaviour production doesn't have)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from bot.store import LockTimeout, Store, open_store


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


async def test_json_values_round_trip_and_carry_their_ttl(any_store: Store) -> None:
    key = any_store.keys.state("console:me:me")
    await any_store.set_json(key, {"flow": {"tool": "pod_logs"}, "n": 1}, ttl=120)
    assert await any_store.get_json(key) == {"flow": {"tool": "pod_logs"}, "n": 1}
    assert 0 < await any_store.ttl(key) <= 120


async def test_a_key_without_a_positive_ttl_is_refused(any_store: Store) -> None:
    with pytest.raises(ValueError):
        await any_store.set_json(any_store.keys.state("x"), {}, ttl=0)


async def test_first_seen_is_true_exactly_once_even_when_asked_concurrently(any_store: Store) -> None:
    key = any_store.keys.seen("dingtalk:msg-1")
    results = await asyncio.gather(*(any_store.first_seen(key, ttl=60) for _ in range(20)))
    assert results.count(True) == 1


async def test_a_status_transition_happens_once_under_concurrency(any_store: Store) -> None:
    key = any_store.keys.approval("a1")
    assert await any_store.create_record(key, {"status": "pending"}, ttl=60)
    assert not await any_store.create_record(key, {"status": "pending"}, ttl=60)
    moved = await asyncio.gather(
        *(any_store.transition(key, "pending", "approved", ttl=60, fields={"by": str(i)}) for i in range(10))
    )
    assert moved.count(True) == 1 and moved.count(False) == 9
    record = await any_store.get_record(key)
    assert record is not None and record["status"] == "approved" and "by" in record
    assert await any_store.transition(any_store.keys.approval("gone"), "pending", "approved", ttl=60) is None


async def test_the_conversation_lock_serialises_holders_and_times_out(any_store: Store) -> None:
    key = any_store.keys.conv_lock("console:c:u")
    order: list[str] = []

    async def hold(name: str) -> None:
        async with any_store.lock(key, ttl=5, wait=5):
            order.append(f"{name}-in")
            await asyncio.sleep(0.05)
            order.append(f"{name}-out")

    await asyncio.gather(hold("a"), hold("b"))
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])

    async with any_store.lock(key, ttl=5, wait=1):
        with pytest.raises(LockTimeout):
            async with any_store.lock(key, ttl=5, wait=0.2):
                pass


async def test_the_audit_stream_keeps_the_newest_entries_first(any_store: Store) -> None:
    key = any_store.keys.audit_stream()
    for i in range(5):
        await any_store.append_stream(key, {"n": str(i)}, maxlen=1000, ttl=600)
    assert [e["n"] for e in await any_store.read_stream_tail(key, 3)] == ["4", "3", "2"]
    assert 0 < await any_store.ttl(key) <= 600


async def test_cache_entries_are_cleared_by_pattern_and_nothing_else(any_store: Store) -> None:
    await any_store.set_json(any_store.keys.cache("pods", "dev"), [1], ttl=30)
    await any_store.set_json(any_store.keys.cache("namespaces", "sandbox"), [2], ttl=30)
    await any_store.set_json(any_store.keys.state("keep"), {"x": 1}, ttl=30)
    assert await any_store.delete_pattern(any_store.keys.cache_pattern()) == 2
    assert await any_store.get_json(any_store.keys.state("keep")) == {"x": 1}


async def test_every_key_any_writer_leaves_behind_expires(any_store: Store) -> None:
    keys = any_store.keys
    await any_store.set_json(keys.state("s"), {"a": 1}, ttl=300)
    await any_store.first_seen(keys.seen("feishu:m-1"), ttl=300)
    await any_store.create_record(keys.approval("r1"), {"status": "pending"}, ttl=300)
    assert 0 < await any_store.ttl(keys.approval("r1")) <= 300  # before any transition renews it
    await any_store.transition(keys.approval("r1"), "pending", "approved", ttl=300, fields={"by": "bob"})
    await any_store.update_record(keys.approval("r1"), {"note": "kept its ttl"})
    await any_store.append_stream(keys.audit_stream(), {"n": "1"}, maxlen=10, ttl=300)
    async with any_store.lock(keys.conv_lock("c"), ttl=30, wait=1):
        assert 0 < await any_store.ttl(keys.conv_lock("c")) <= 30
    written = [keys.state("s"), keys.seen("feishu:m-1"), keys.approval("r1"), keys.audit_stream()]
    for key in written:
        assert 0 < await any_store.ttl(key) <= 300, key
    # And nothing else under this store's prefix lives forever (-1 = no expiry).
    everything = [k async for k in any_store._r.scan_iter(match=f"{keys.prefix}:*")]
    if any_store.kind == "cluster":
        everything = list(set(everything))
    assert len(everything) == len(written)
    forever = [k for k in everything if await any_store._r.ttl(k) <= 0]
    assert forever == []
