"""A thin typed layer over `redis.asyncio`.

The same code runs on real Redis (`REDIS_URL`: one node, Sentinel or Cluster) and on fakeredis's in-process
server (the demo default), so the contract tests exercise one implementation. Every write takes a TTL.

Faults: every redis error that means "cannot reach a working master right now" (connection refused or lost,
timeout, failover in progress, a demoted master's READONLY, cluster down, pool exhausted) leaves this module as
`StoreUnavailable`, so callers handle one exception and never import redis. Operations that are safe to repeat
are retried with a short backoff; the others (CAS, once-only markers, record creation) carry a nonce so a
retry after a lost response recognises its own earlier write instead of reporting a false "already there".
At most `max_connections` commands are in flight per process; the rest wait (up to `pool_timeout`) instead of
failing with MaxConnectionsError.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from redis import exceptions as rx

from bot.store import scripts
from bot.store.batch import Batcher
from bot.store.connect import ClientOptions, Topology, build_client, describe
from bot.store.hotcache import HotCache
from bot.store.keys import Keys
from bot.store.session import BEGIN, BUSY, DUPLICATE, END, Seen, Session, begin_args, decode

log = logging.getLogger(__name__)

T = TypeVar("T")

MASTER_CHECK_SECONDS = 1.0


class LockTimeout(Exception):
    """The conversation lock could not be taken in time (another replica is busy with this conversation)."""


class StoreUnavailable(Exception):
    """Redis could not be reached (or has no writable master right now). Say so; never a traceback."""


# What "Redis is not answering properly right now" looks like in redis-py. ReadOnlyError: a demoted master
# (single-node URL after a failover; Sentinel pools reconnect on their own). ResponseError subclasses listed
# explicitly: a plain ResponseError is a bug of ours and must not be hidden as an outage.
_TRANSIENT: tuple[type[BaseException], ...] = (
    rx.ConnectionError,
    rx.TimeoutError,
    rx.ReadOnlyError,
    rx.ClusterDownError,
    rx.TryAgainError,
    rx.RedisClusterException,
    ConnectionError,  # OSError family from a socket redis-py did not wrap
    asyncio.TimeoutError,
)

_INTERNAL_FIELDS = frozenset({"_t", "_c"})


class Store:
    def __init__(
        self,
        client: Any,
        keys: Keys,
        *,
        kind: str = "single",
        max_in_flight: int = 50,
        wait_timeout: float = 5.0,
        retries: int = 3,
        closers: tuple[Any, ...] = (),
        where: str = "",
    ) -> None:
        self._r = client
        self.keys = keys
        self.kind = kind
        self.where = where
        self._closers = closers
        self._slots = asyncio.Semaphore(max(1, max_in_flight))
        self._init_lock = asyncio.Lock()
        self._master_checked = -MASTER_CHECK_SECONDS
        self._cache_prefix = keys.cache("", "").rsplit(":", 2)[0] + ":"
        self.hot = HotCache()
        self._cache_writes: Batcher[tuple[str, str, int]] = Batcher(self._write_cache, name="cache-writes")
        self._wait_timeout = wait_timeout
        self._retries = max(0, retries)
        self._transition = client.register_script(scripts.TRANSITION)
        self._create = client.register_script(scripts.CREATE)
        self._append = client.register_script(scripts.APPEND)
        self._release = client.register_script(scripts.RELEASE)
        self._begin = client.register_script(BEGIN)
        self._end = client.register_script(END)

    # --- the fault boundary ---
    async def _once(self, op: Callable[[], Awaitable[T]]) -> T:
        if self._slots.locked():  # all slots taken: wait, but not for ever (a free slot needs no timer)
            try:
                async with asyncio.timeout(self._wait_timeout):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise StoreUnavailable("too many Redis commands in flight") from exc
        else:
            await self._slots.acquire()
        try:
            if self.kind == "cluster" and getattr(self._r, "_initialize", False):
                await self._cluster_layout()
            elif self.kind == "sentinel":
                await self._follow_master()
            return await op()
        finally:
            self._slots.release()

    async def _follow_master(self) -> None:
        # redis-py asks the sentinels only when it opens a connection: a pooled connection to a master that was
        # just demoted keeps writing there (lost when it resyncs as a replica). So at most once a second, ask
        # who the master is; a change drops the idle connections, and the next command reaches the new master.
        now = asyncio.get_running_loop().time()
        if now - self._master_checked < MASTER_CHECK_SECONDS:
            return
        self._master_checked = now
        pool = self._r.connection_pool
        before = getattr(pool, "master_address", None)
        try:
            after = await pool.get_master_address()
        except _TRANSIENT:
            return  # no sentinel answers: the command itself will say whether the master does
        if before is not None and after != before:
            log.warning("Redis master moved %s -> %s; reconnecting", before, after)
            await pool.disconnect(inuse_connections=True)

    async def _cluster_layout(self) -> None:
        # redis-py's async cluster client breaks (AttributeError deep inside) when commands run while it
        # (re)reads the slot layout, at start and after a node failed: let one caller read it, the rest wait.
        async with self._init_lock:
            if getattr(self._r, "_initialize", False):
                await self._r.initialize()

    async def _do(self, op: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        attempts = 1 + (self._retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                return await self._once(op)
            except StoreUnavailable:
                raise
            except _TRANSIENT as exc:
                if attempt + 1 >= attempts:
                    raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
                await asyncio.sleep(min(2.0, 0.1 * 3**attempt))  # 0.1, 0.3, 0.9 s: spans a quick failover
        raise AssertionError("unreachable")

    # --- plain values ---
    # Cache entries (`Keys.cache`) are best effort by construction: a read that fails is a miss, a write that
    # fails is skipped (one attempt, no retry), so a Redis fault never turns a good answer into an error.
    def _is_cache(self, key: str) -> bool:
        return key.startswith(self._cache_prefix)

    async def get_json(self, key: str) -> Any | None:
        if self._is_cache(key):
            near = self.hot.get(key)
            if near is not None:
                return near
            try:
                raw = await self._do(lambda: self._r.get(key), idempotent=False)
            except StoreUnavailable as exc:
                log.warning("cache read skipped: %s", exc)
                return None
            if raw is not None:
                self.hot.put(key, _s(raw))
        else:
            raw = await self._do(lambda: self._r.get(key), idempotent=True)
        return None if raw is None else json.loads(raw)

    async def set_json(self, key: str, value: Any, ttl: int) -> None:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        ex = _ttl(ttl)
        if self._is_cache(key):
            # this process sees it at once (the copy); Redis gets it with the next batch, a moment later
            self.hot.put(key, data, ex)
            if not self._cache_writes.put((key, data, ex)):
                log.debug("cache write skipped: too many queued")  # the batcher logs the streak once
            return
        await self._do(lambda: self._r.set(key, data, ex=ex), idempotent=True)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        self.hot.drop(*keys)
        await self._cache_writes.flush()  # a queued write must not bring a deleted entry back
        try:
            return int(await self._do(lambda: self._r.delete(*keys), idempotent=True))
        except StoreUnavailable:
            if all(self._is_cache(k) for k in keys):
                log.warning("cache delete skipped: Redis unavailable")  # the entry's short TTL ends it
                return 0
            raise

    async def ttl(self, key: str) -> int:
        if self._is_cache(key):
            await self._cache_writes.flush()  # read your own writes: a queued one counts as written
        return int(await self._do(lambda: self._r.ttl(key), idempotent=True))

    async def exists(self, key: str) -> bool:
        if self._is_cache(key):
            await self._cache_writes.flush()
        return bool(await self._do(lambda: self._r.exists(key), idempotent=True))

    async def delete_pattern(self, pattern: str) -> int:
        self.hot.drop_matching(pattern)
        await self._cache_writes.flush()

        async def scan_and_delete() -> int:
            n = 0
            async for key in self._r.scan_iter(match=pattern, count=500):
                n += int(await self._r.delete(key))
            return n

        return await self._do(scan_and_delete, idempotent=True)

    # --- once-only markers (dedupe of redelivered frames, across replicas) ---
    async def first_seen(self, key: str, ttl: int) -> bool:
        """True exactly once per key within `ttl`, whichever replica asks first (a retry of our own SET whose
        answer was lost still counts as ours)."""
        token = uuid.uuid4().hex
        ex = _ttl(ttl)

        async def claim() -> bool:
            if await self._r.set(key, token, nx=True, ex=ex):
                return True
            return bool(await self._r.get(key) == token)

        return await self._do(claim, idempotent=True)

    # --- hashes with an atomic status transition (approvals) ---
    async def create_record(self, key: str, fields: Mapping[str, str], ttl: int) -> bool:
        """Create a hash only if absent. Returns False if it already existed."""
        args = [str(_ttl(ttl)), uuid.uuid4().hex, *_flat(fields)]
        return bool(int(await self._do(lambda: self._create(keys=[key], args=args), idempotent=True)))

    async def get_record(self, key: str) -> dict[str, str] | None:
        raw = await self._do(lambda: self._r.hgetall(key), idempotent=True)
        if not raw:
            return None
        return {_s(k): _s(v) for k, v in raw.items() if _s(k) not in _INTERNAL_FIELDS}

    async def transition(
        self, key: str, expect: str, new: str, *, ttl: int, fields: Mapping[str, str] | None = None
    ) -> bool | None:
        """Atomically set status `expect` -> `new` (and extra fields). True: moved; False: status differs;
        None: no such record (expired)."""
        args = [expect, new, str(ttl), uuid.uuid4().hex, *_flat(fields or {})]
        res = await self._do(lambda: self._transition(keys=[key], args=args), idempotent=True)
        return None if int(res) == -1 else bool(int(res))

    async def update_record(self, key: str, fields: Mapping[str, str]) -> None:
        """Update fields of an existing hash, keeping its TTL."""
        mapping = _m(fields)
        await self._do(lambda: self._r.hset(key, mapping=mapping), idempotent=True)

    # --- append-only streams (audit) ---
    async def append_stream(self, key: str, entry: Mapping[str, str], *, maxlen: int, ttl: int) -> str:
        once = "{" + key + "}:once:" + uuid.uuid4().hex
        args = [str(maxlen), str(_ttl(ttl)), *_flat(entry)]
        return _s(await self._do(lambda: self._append(keys=[key, once], args=args), idempotent=True))

    async def read_stream_tail(self, key: str, count: int) -> list[dict[str, str]]:
        rows: Any = await self._do(lambda: self._r.xrevrange(key, count=count), idempotent=True)
        return [{_s(k): _s(v) for k, v in (fields or {}).items()} for _id, fields in rows or []]

    # --- locks ---
    @asynccontextmanager
    async def lock(self, key: str, *, ttl: float = 30.0, wait: float = 10.0) -> AsyncIterator[None]:
        """A Redis lock: SET NX with our token, released only by its holder. Take it BEFORE loading state.
        Polled from here (not redis-py's blocking acquire) so a waiter holds no connection while it waits."""
        token = uuid.uuid4().hex
        px = max(1, int(ttl * 1000))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        delay = 0.02

        async def take() -> bool:
            if await self._r.set(key, token, nx=True, px=px):
                return True
            return bool(await self._r.get(key) == token)  # our earlier SET landed, its answer was lost

        while not await self._do(take, idempotent=True):
            if loop.time() >= deadline:
                raise LockTimeout(key)
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(0.25, delay * 2)
        try:
            yield
        finally:
            try:
                await self._do(lambda: self._release(keys=[key], args=[token]), idempotent=True)
            except StoreUnavailable:
                pass  # Redis is away: the TTL frees the lock

    @asynccontextmanager
    async def session(
        self,
        lock_key: str,
        state_key: str,
        *,
        seen: Seen | None = None,
        ttl: float = 30.0,
        wait: float = 10.0,
    ) -> AsyncIterator[Session]:
        """A conversation turn in two round trips (`bot.store.session`): claim `seen` (if given), take the lock,
        load the state; at the end save what `Session.save` was given and release. A duplicate yields a session
        with `duplicate` set and holds no lock. The keys must share a hash tag."""
        turn = Session()
        px = max(1, int(ttl * 1000))
        keys = [lock_key, state_key] if seen is None else [lock_key, state_key, seen.key]
        args = begin_args(turn, px, seen)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        delay = 0.02
        while True:
            code, turn.raw = decode(await self._do(lambda: self._begin(keys=keys, args=args), idempotent=True))
            if code == DUPLICATE:
                turn.duplicate = True
                yield turn
                return
            if code != BUSY:
                break
            if loop.time() >= deadline:
                raise LockTimeout(lock_key)
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(0.25, delay * 2)
        try:
            yield turn
        finally:
            end_args = [turn.token, turn.pending, str(turn.ttl or 1)]
            try:
                await self._do(lambda: self._end(keys=[lock_key, state_key], args=end_args), idempotent=True)
            except StoreUnavailable:
                if turn.pending:
                    raise  # the state was not saved: the caller says the turn did not finish
                # nothing to save and Redis is away: the lock's TTL frees it

    async def append_stream_batch(
        self, key: str, entries: Sequence[Mapping[str, str]], *, maxlen: int, ttl: int
    ) -> None:
        """Many entries in one round trip (a pipeline: XADDs then one EXPIRE). Not idempotent: a retry after a
        lost answer could add an entry twice, so there is no retry; the caller counts a failure."""
        if not entries:
            return
        ex = _ttl(ttl)

        async def send() -> Any:
            pipe = self._r.pipeline(transaction=False)
            for entry in entries:
                pipe.xadd(key, _m(entry), maxlen=maxlen, approximate=True)
            pipe.expire(key, ex)
            return await pipe.execute()

        await self._do(send, idempotent=False)

    async def ping(self) -> bool:
        try:
            return bool(await self._once(lambda: self._r.ping()))
        except Exception:  # noqa: BLE001 - health probe: any failure means "not reachable"
            return False

    async def flush(self) -> None:
        """Write the queued cache entries now (tests; `close` does it too)."""
        await self._cache_writes.flush()

    async def _write_cache(self, batch: list[tuple[str, str, int]]) -> None:
        latest = {key: (data, ex) for key, data, ex in batch}  # the same listing twice: the newer one

        async def send() -> Any:
            pipe = self._r.pipeline(transaction=False)
            for key, (data, ex) in latest.items():
                pipe.set(key, data, ex=ex)
            return await pipe.execute()

        try:
            await self._do(send, idempotent=False)
        except StoreUnavailable as exc:
            log.warning("cache write skipped (%d entries): %s", len(latest), exc)

    async def close(self) -> None:
        try:
            await self._cache_writes.flush()
        except Exception:  # closing: a cache entry not written is only a later miss
            log.debug("flushing cache writes at close failed", exc_info=True)
        await self._r.aclose()
        for extra in self._closers:
            closer = getattr(extra, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:  # closing the sentinel manager's sockets: nothing to report
                    log.debug("closing %r failed", extra, exc_info=True)


def _ttl(ttl: float) -> int:
    if ttl <= 0:
        raise ValueError("every key needs a positive TTL")
    return max(1, int(ttl))


def _flat(fields: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for k, v in fields.items():
        out += [k, v]
    return out


def _m(fields: Mapping[str, str]) -> Any:
    # redis-py's stubs want a dict of its own union key type; str keys are what we store
    return dict(fields)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else cast(str, v)


def open_store(
    redis_url: str | None,
    *,
    prefix: str = "kd",
    options: ClientOptions | None = None,
    retries: int = 3,
) -> Store:
    """Real Redis when a URL is given; else an in-process Redis-compatible server (fakeredis), demo only."""
    opts = options or ClientOptions()
    if redis_url:
        topo: Topology = build_client(redis_url, opts)
        return Store(
            topo.client,
            Keys(prefix),
            kind=topo.kind,
            max_in_flight=opts.max_connections,
            wait_timeout=opts.pool_timeout,
            retries=retries,
            closers=topo.closers,
            where=describe(redis_url),
        )
    import fakeredis

    return Store(fakeredis.FakeAsyncRedis(decode_responses=True), Keys(prefix), kind="embedded", where="in-process")
