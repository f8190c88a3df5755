"""The engine's access to tools: the gateway, the read policy check, and the choice cache in the store.

Cached data serves choices (buttons) by default; results the user asked for are fetched fresh. A tool that
raises never reaches the user as a stack trace: it becomes an UNAVAILABLE/FAILED outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from typing import Any, Protocol

from bot.approvals.port import Caller, Gate
from bot.core.flights import Flights
from bot.core.i18n import Lang, tr
from bot.store import Store
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome

log = logging.getLogger(__name__)

# Seconds each kind of listing stays cached. Logs and events are never cached: they are what changes.
CACHE_TTL: dict[str, int] = {
    "list_clusters": 3600,
    "list_namespaces": 300,
    "list_nodes": 60,
    "list_pods": 30,
    "list_deployments": 30,
    "list_services": 30,
    "describe_pod": 30,
}


MEMO_SECONDS = 5.0  # how long a built vocabulary is reused at most; the listings behind it are cached 30 s+
MEMO_MAX = 256  # built vocabularies kept (per caller, cluster and kind)


class Gateway(Protocol):
    """What the engine needs of `bot.tooling.gateway.ToolGateway`."""

    def tools(self) -> list[ToolInfo]: ...

    def info(self, name: str) -> ToolInfo | None: ...

    async def call(self, call: ToolCall) -> ToolOutcome: ...


def failure(code: str, message: str) -> ToolOutcome:
    return ToolOutcome(ok=False, error_code=code, error=message)


class Toolbox:
    def __init__(self, *, gateway: Gateway, gate: Gate, store: Store) -> None:
        self.gateway = gateway
        self.gate = gate
        self.store = store
        self.k8s_calls = 0  # calls that reached the gateway (benchmarks read these two)
        self.k8s_seconds = 0.0
        # Built vocabularies (names known per caller and cluster), in process: every message with names in it
        # needs one, and rebuilding it means reading and decoding every cached pod/deployment listing from Redis.
        # Valid for MEMO_SECONDS and only while `generation` is unchanged (a listing re-read, dropped or cleared).
        self.generation = 0
        self._memo: dict[Hashable, tuple[float, int, Any]] = {}
        self._prints: dict[str, int] = {}  # cache key -> fingerprint of the names last fetched fresh
        self._flights: Flights[ToolOutcome] = Flights()

    def tools(self) -> list[ToolInfo]:
        try:
            return list(self.gateway.tools())
        except Exception:  # a source failing to list must not take the chat down
            log.exception("listing tools failed")
            return []

    def info(self, name: str) -> ToolInfo | None:
        try:
            return self.gateway.info(name)
        except Exception:  # same: unknown rather than a crash
            log.exception("tool info failed for %s", name)
            return None

    def memo_get(self, key: Hashable) -> Any:
        hit = self._memo.get(key)
        if hit is None:
            return None
        at, generation, value = hit
        if generation != self.generation or time.monotonic() - at > MEMO_SECONDS:
            del self._memo[key]
            return None
        return value

    def memo_put(self, key: Hashable, value: Any) -> None:
        if len(self._memo) >= MEMO_MAX:  # bounded: the oldest entry goes first (dicts keep insertion order)
            self._memo.pop(next(iter(self._memo)))
        self._memo[key] = (time.monotonic(), self.generation, value)

    def _changed(self, key: str, data: Any) -> None:
        """A fresh listing whose names differ from the last one's makes the built vocabularies stale: a reply
        that merely re-reads the same pods ("有哪些 pod") keeps them."""
        items = data.get("items") if isinstance(data, dict) else None
        pairs = tuple(
            (i.get("name"), i.get("namespace"), i.get("workload")) for i in items or () if isinstance(i, dict)
        )
        fingerprint = hash(pairs)
        if self._prints.get(key) != fingerprint:
            if len(self._prints) >= MEMO_MAX * 4:
                self._prints.clear()
            self._prints[key] = fingerprint
            self.generation += 1

    def _key(self, call: ToolCall) -> str:
        return self.store.keys.cache(call.tool, call.canonical())

    async def read(self, caller: Caller, call: ToolCall, lang: Lang, *, cached: bool = False) -> ToolOutcome:
        """Run a read (never a mutation) after the policy check; `cached` serves and fills the cache."""
        info = self.info(call.tool)
        if info is None:
            return failure(
                "not_found", tr(lang, "没有名为 `{t}` 的工具。", "There is no tool named `{t}`.", t=call.tool)
            )
        if info.mutates:
            return failure("forbidden", tr(lang, "这个操作会修改集群。", "That call changes the cluster."))
        verdict = await self.gate.check_read(caller, call, info, lang)
        if not verdict.allowed:
            return failure("forbidden", verdict.reason or tr(lang, "没有权限。", "Not allowed."))
        ttl = CACHE_TTL.get(call.tool) if cached else None
        if ttl:
            hit = await self.store.get_json(self._key(call))
            if isinstance(hit, dict):
                return ToolOutcome(ok=True, data=hit.get("data"), text=str(hit.get("text", "")))
        if call.tool not in CACHE_TTL:
            return await self.raw(call, lang)
        # the same listing asked for by many at once (a busy group) is fetched once for all of them
        return await self._flights.run((self._key(call), lang), lambda: self._fetch(call, lang))

    async def _fetch(self, call: ToolCall, lang: Lang) -> ToolOutcome:
        outcome = await self.raw(call, lang)
        if outcome.ok:
            # fresh results refill the cache too, so the next choice list is current
            self._changed(self._key(call), outcome.data)
            await self.store.set_json(
                self._key(call), {"data": outcome.data, "text": outcome.text}, CACHE_TTL[call.tool]
            )
        return outcome

    async def raw(self, call: ToolCall, lang: Lang) -> ToolOutcome:
        self.k8s_calls += 1
        start = time.perf_counter()
        try:
            return await self.gateway.call(call)
        except Exception as exc:  # the boundary with tool sources: report, never raise into the chat
            log.exception("tool %s raised", call.tool)
            return failure(
                "unavailable",
                tr(lang, "调用 `{t}` 失败：{e}", "Calling `{t}` failed: {e}", t=call.tool, e=type(exc).__name__),
            )
        finally:
            self.k8s_seconds += time.perf_counter() - start

    async def forget(self, tool: str, args: dict[str, Any]) -> None:
        """Drop one cached listing (it went stale)."""
        self.generation += 1
        await self.store.delete(self._key(ToolCall(tool, args)))

    async def clear(self) -> int:
        self.generation += 1
        return await self.store.delete_pattern(self.store.keys.cache_pattern())
