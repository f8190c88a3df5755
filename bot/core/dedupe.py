"""The dedupe claim of the event being handled, handed from the dispatcher to the handler that takes the
conversation lock, so the store can check the marker, take the lock and load the state in one round trip.

The dispatcher makes one claim per event (its token stays the same across the outage retries of that event,
so a retry recognises its own marker); it hands the claim on only to a handler that says it checks it
(`Dispatcher(handler_dedupes=True)`: the engine, which checks it for every event before anything else).
Otherwise the dispatcher checks the marker itself, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Claim:
    event: str  # "<platform>:<event id>": what a redelivery repeats
    token: str  # ours: the same for every retry of this event in this process
    ttl: int  # how long a redelivery is recognised


_current: ContextVar[Claim | None] = ContextVar("kubeduty_dedupe_claim", default=None)


def current() -> Claim | None:
    """The claim the handler must check before handling (None: the dispatcher already did, or no dispatcher)."""
    return _current.get()


@contextmanager
def handing(claim: Claim) -> Iterator[None]:
    reset = _current.set(claim)
    try:
        yield
    finally:
        _current.reset(reset)
