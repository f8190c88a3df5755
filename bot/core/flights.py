"""Identical reads in flight at the same moment share one call ("single flight").

When many people in a busy group ask for the same listing at once (an incident: everyone types `/pods prod`),
each question used to cost its own Kubernetes API call, its own conversion and redaction. A question asked while
the same call is already on its way joins it: the answer was fetched after (or a few milliseconds before) it was
asked, so it is as fresh as a call of its own; a question asked after the flight landed starts a new one. Only
the flight's callers share it: nothing is kept once it lands. The flight runs as its own task, so one caller
giving up (cancelled) does not cancel the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Flights(Generic[T]):
    def __init__(self) -> None:
        self._flying: dict[Hashable, asyncio.Future[T]] = {}
        self.joined = 0  # callers served by someone else's flight (benchmarks and tests read it)

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        flight = self._flying.get(key)
        if flight is not None:
            self.joined += 1
            return await asyncio.shield(flight)

        async def fly() -> T:
            try:
                return await call()
            finally:
                self._flying.pop(key, None)

        task = asyncio.ensure_future(fly())
        self._flying[key] = task
        return await asyncio.shield(task)
