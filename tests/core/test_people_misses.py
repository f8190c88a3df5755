"""A person the contact API cannot name costs no lookup and no Redis read on every message: the miss is
remembered in process for a short while, then asked again."""

from __future__ import annotations

import pytest

from bot.channels import people
from bot.channels.people import People
from bot.core.events import Platform
from bot.render import names
from bot.store import Store


async def test_an_unnamed_person_is_looked_up_once_and_then_remembered_as_a_miss(store: Store) -> None:
    names.forget_all()
    asked: list[str] = []

    async def lookup(user_id: str) -> str | None:
        asked.append(user_id)
        return None  # outside the app's contact scope

    who = People(Platform.FEISHU, store, lookup)
    for _ in range(5):
        assert await who.learn("ou_nobody") == "ou_nobody"
    assert asked == ["ou_nobody"]


async def test_a_failing_contact_api_is_asked_again_once_the_miss_is_old(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    names.forget_all()
    asked: list[str] = []
    now = [1000.0]
    monkeypatch.setattr(people.time, "monotonic", lambda: now[0])

    async def lookup(user_id: str) -> str | None:
        asked.append(user_id)
        if len(asked) == 1:
            raise ConnectionError("contact API down")
        return "Bo Wen"

    who = People(Platform.FEISHU, store, lookup)
    assert await who.learn("ou_bo") == "ou_bo"  # the card shows the id meanwhile
    assert await who.learn("ou_bo") == "ou_bo"
    assert asked == ["ou_bo"]
    now[0] += people.MISS_MEMO_SECONDS + 1
    assert await who.learn("ou_bo") == "Bo Wen"
    assert asked == ["ou_bo", "ou_bo"]
