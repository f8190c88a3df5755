"""Per-user and per-chat token buckets, kept in this process.

Why per process and not in Redis: the limit exists to protect this process (its event loop, its Redis pool) from
a burst, so it must work when Redis is slow or down, and it must cost no round trip on the hot path. With N
replicas a user gets at most N times the budget, which is still bounded. Both buckets must have a token for an
event to pass, and only then are both charged, so a refused event costs nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED = 20_000  # buckets kept (LRU): an evicted bucket was idle, i.e. full again anyway


@dataclass(frozen=True, slots=True)
class Rate:
    per_minute: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float
    warned: bool = False  # one "slow down" notice per episode, not one per refused message


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    notify: bool = False  # first refusal of this episode: tell the sender
    retry_after: float = 0.0  # seconds until the next event would pass
    scope: str = ""  # "user" | "chat": which limit refused


class RateLimiter:
    def __init__(self, *, user: Rate, chat: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self._rates = {"user": user, "chat": chat}
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def _bucket(self, scope: str, key: str, now: float) -> _Bucket:
        rate = self._rates[scope]
        b = self._buckets.get((scope, key))
        if b is None:
            b = _Bucket(float(rate.burst), now)
            self._buckets[(scope, key)] = b
            while len(self._buckets) > MAX_TRACKED:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((scope, key))
            b.tokens = min(float(rate.burst), b.tokens + (now - b.stamp) * rate.per_second)
            b.stamp = now
        return b

    def take(self, user: str, chat: str) -> Verdict:
        now = self._clock()
        buckets = {"user": self._bucket("user", user, now), "chat": self._bucket("chat", chat, now)}
        for scope, b in buckets.items():
            if b.tokens < 1.0:
                rate = self._rates[scope].per_second
                wait = (1.0 - b.tokens) / rate if rate > 0 else float("inf")
                notify = not b.warned
                b.warned = True
                return Verdict(False, notify=notify, retry_after=wait, scope=scope)
        for b in buckets.values():
            b.tokens -= 1.0
            b.warned = False
        return Verdict(True)
