"""What a message cannot go below (a script: `python -m tests.bench.bench_floor [N]`).

Prints the bot-process CPU of the pieces every message pays, each alone, in a tight loop on real Redis:
- one Redis round trip through redis-py (GET of a small key), and the turn's two scripts through
  `Store.session` (dedupe + lock + load, then save + unlock) with a small state;
- one asyncio task created and awaited (the dispatcher's lane worker and the progress timer are tasks);
- decoding and encoding a conversation state (pydantic) of the size a dialogue leaves.
With the per-message figures of `bench_message`, these say how much of a cached message is the floor
(round trips, event loop) and how much is the bot's own work. Medians of 5 repeats of N operations each.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from bot.conversation.state import ConvState
from bot.store import Seen, open_store
from tests.support.redis_server import ensure_redis


async def cpu_per_op(n: int, op: Callable[[], Awaitable[object]]) -> float:
    runs = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(n):
            await op()
        runs.append((time.process_time() - start) / n)
    return statistics.median(runs)


def state_doc() -> dict[str, object]:
    st = ConvState(lang="zh", greeted=True)
    for i in range(12):
        st.add_turn("user" if i % 2 == 0 else "assistant", f"看下 dev 里的 pod #{i}")
    st.memory.namespace = "dev"
    st.memory.listed = [["dev", f"cart-service-v{i}-abc"] for i in range(20)]
    return st.model_dump(mode="json")


async def main(n: int) -> None:
    redis = ensure_redis()
    prefix = f"kdfloor-{uuid.uuid4().hex[:8]}"
    store = open_store(redis.url, prefix=prefix)
    key = store.keys.custom("floor", "x")
    await store.set_json(key, {"a": 1}, ttl=300)
    doc = state_doc()
    conv = "feishu:oc_floor:ou_floor"

    async def get() -> object:
        return await store.get_json(key)

    async def turn() -> object:
        seen = Seen(store.keys.seen(uuid.uuid4().hex, conv), uuid.uuid4().hex, 60)
        async with store.session(store.keys.conv_lock(conv), store.keys.state(conv), seen=seen) as s:
            s.save(doc, ttl=300)
        return s

    async def nothing() -> None:
        return None

    async def task() -> object:
        return await asyncio.create_task(nothing())

    async def state_round() -> object:
        return ConvState.model_validate(doc).model_dump(mode="json")

    try:
        print(f"python {sys.version.split()[0]}, real Redis at {store.where}, {n} operations x 5, CPU median:")
        print(f"  one Redis round trip (GET, redis-py + Store)   {await cpu_per_op(n, get) * 1e6:7.1f} µs")
        print(f"  a turn's two scripts (Store.session)            {await cpu_per_op(n, turn) * 1e6:7.1f} µs")
        print(f"  one asyncio task created and awaited            {await cpu_per_op(n, task) * 1e6:7.1f} µs")
        print(f"  conversation state decode + encode (pydantic)   {await cpu_per_op(n, state_round) * 1e6:7.1f} µs")
    finally:
        await store.delete_pattern(f"{prefix}:*")
        await store.close()
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
