"""A thin typed layer over `redis.asyncio`.

The same code runs on real Redis (`REDIS_URL`) and on fakeredis's in-process server (the demo default), so
the contract tests exercise one implementation. Every write takes a TTL: nothing lives forever.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import LockError

from bot.store.keys import Keys


class LockTimeout(Exception):
    """The conversation lock could not be taken in time (another replica is busy with this conversation)."""


# Compare-and-set on a JSON hash field: move `status` from an expected value to a new one, atomically.
_TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
"""


class Store:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._r = client
        self.keys = keys
        self._transition = client.register_script(_TRANSITION)

    # --- plain values ---
    async def get_json(self, key: str) -> Any | None:
        raw = await self._r.get(key)
        return None if raw is None else json.loads(raw)

    async def set_json(self, key: str, value: Any, ttl: int) -> None:
        await self._r.set(key, json.dumps(value, ensure_ascii=False, separators=(",", ":")), ex=_ttl(ttl))

    async def delete(self, *keys: str) -> int:
        return int(await self._r.delete(*keys)) if keys else 0

    async def ttl(self, key: str) -> int:
        return int(await self._r.ttl(key))

    async def exists(self, key: str) -> bool:
        return bool(await self._r.exists(key))

    async def delete_pattern(self, pattern: str) -> int:
        n = 0
        async for key in self._r.scan_iter(match=pattern, count=500):
            n += int(await self._r.delete(key))
        return n

    # --- once-only markers (dedupe of redelivered frames, across replicas) ---
    async def first_seen(self, key: str, ttl: int) -> bool:
        """True exactly once per key within `ttl`, whichever replica asks first."""
        return bool(await self._r.set(key, "1", nx=True, ex=_ttl(ttl)))

    # --- hashes with an atomic status transition (approvals) ---
    async def create_record(self, key: str, fields: Mapping[str, str], ttl: int) -> bool:
        """Create a hash only if absent. Returns False if it already existed."""
        async with self._r.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            if await pipe.exists(key):
                await pipe.unwatch()
                return False
            pipe.multi()
            pipe.hset(key, mapping=_m(fields))
            pipe.expire(key, _ttl(ttl))
            await pipe.execute()
        return True

    async def get_record(self, key: str) -> dict[str, str] | None:
        raw = await self._r.hgetall(key)
        if not raw:
            return None
        return {_s(k): _s(v) for k, v in raw.items()}

    async def transition(
        self, key: str, expect: str, new: str, *, ttl: int, fields: Mapping[str, str] | None = None
    ) -> bool | None:
        """Atomically set status `expect` -> `new` (and extra fields). True: moved; False: status differs;
        None: no such record (expired)."""
        extra: list[str] = []
        for k, v in (fields or {}).items():
            extra += [k, v]
        res = await self._transition(keys=[key], args=[expect, new, str(ttl), *extra])
        return None if int(res) == -1 else bool(int(res))

    async def update_record(self, key: str, fields: Mapping[str, str]) -> None:
        """Update fields of an existing hash, keeping its TTL."""
        await self._r.hset(key, mapping=_m(fields))

    # --- append-only streams (audit) ---
    async def append_stream(self, key: str, entry: Mapping[str, str], *, maxlen: int, ttl: int) -> str:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.xadd(key, _m(entry), maxlen=maxlen, approximate=True)
            pipe.expire(key, _ttl(ttl))
            res = await pipe.execute()
        return _s(res[0])

    async def read_stream_tail(self, key: str, count: int) -> list[dict[str, str]]:
        rows: Any = await self._r.xrevrange(key, count=count)
        return [{_s(k): _s(v) for k, v in (fields or {}).items()} for _id, fields in rows or []]

    # --- locks ---
    @asynccontextmanager
    async def lock(self, key: str, *, ttl: float = 30.0, wait: float = 10.0) -> AsyncIterator[None]:
        """A Redis lock (redis-py's, token-checked release). Take it BEFORE loading state."""
        lk = self._r.lock(key, timeout=ttl, blocking_timeout=wait)
        if not await lk.acquire():
            raise LockTimeout(key)
        try:
            yield
        finally:
            try:
                await lk.release()
            except LockError:
                pass  # expired while we worked; the next holder already has it

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except Exception:  # noqa: BLE001 - health probe: any failure means "not reachable"
            return False

    async def close(self) -> None:
        await self._r.aclose()


def _ttl(ttl: float) -> int:
    if ttl <= 0:
        raise ValueError("every key needs a positive TTL")
    return max(1, int(ttl))


def _m(fields: Mapping[str, str]) -> Any:
    # redis-py's stubs want a dict of its own union key type; str keys are what we store
    return dict(fields)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else cast(str, v)


def open_store(redis_url: str | None, *, prefix: str = "kd") -> Store:
    """Real Redis when a URL is given; else an in-process Redis-compatible server (fakeredis), demo only."""
    if redis_url:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    else:
        import fakeredis

        client = fakeredis.FakeAsyncRedis(decode_responses=True)
    return Store(client, Keys(prefix))
