"""Identical reads in flight at once share one call; a read asked after the flight landed makes its own; one
caller giving up does not take the answer away from the others."""

from __future__ import annotations

import asyncio

from bot.core.flights import Flights


async def test_questions_asked_while_the_same_call_is_in_flight_share_its_answer() -> None:
    calls = 0
    release = asyncio.Event()

    async def listing() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return f"answer {calls}"

    flights: Flights[str] = Flights()
    waiting = [asyncio.ensure_future(flights.run("pods dev", listing)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["answer 1"] * 20
    assert calls == 1 and flights.joined == 19
    assert await flights.run("pods dev", listing) == "answer 2"  # asked afterwards: fetched afresh
    assert await flights.run("pods prod", listing) == "answer 3"  # another question: its own call


async def test_a_caller_giving_up_leaves_the_flight_to_the_others() -> None:
    release = asyncio.Event()

    async def listing() -> str:
        await release.wait()
        return "pods"

    flights: Flights[str] = Flights()
    first = asyncio.ensure_future(flights.run("k", listing))
    second = asyncio.ensure_future(flights.run("k", listing))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "pods"
    assert first.cancelled()
