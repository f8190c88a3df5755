"""The live log hub across replicas: two hubs on one real Redis stand for two replicas of the bot. A card is
updated by one replica only (the lease), and Stop reaches the replica running the follow wherever it was pressed.
The log source is a local generator: the point here is the hubs and the store, not the cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable

from bot.conversation.follow import FollowConfig, FollowHub, Target
from bot.core.actions import ActionCodec
from bot.core.i18n import Lang
from bot.core.tasks import TaskTracker
from bot.render import paging
from bot.render.model import Code
from bot.store import Store
from tests.conversation.conftest import Recorder

TARGET = Target("dev", "web-1", "web")


def lines_every(seconds: float) -> Callable[..., AsyncGenerator[str, None]]:
    async def source(**_: object) -> AsyncGenerator[str, None]:
        i = 0
        while True:
            await asyncio.sleep(seconds)
            yield f"line {i}"
            i += 1

    return source


def budget(platform: str) -> paging.Budget:
    codec = ActionCodec("hub-test", 600)
    return paging.Budget(platform, lambda a: codec.encode(a, "chat"), Lang.EN, "chat")


async def until(check: Callable[[], bool], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def hub(store: Store, tracker: TaskTracker, seconds: float = 60) -> FollowHub:
    return FollowHub(
        source=lines_every(0.05), store=store, tracker=tracker, config=FollowConfig(seconds=seconds, interval=0.5)
    )


async def test_stop_pressed_on_another_replica_ends_the_follow_where_it_runs(store: Store) -> None:
    tracker = TaskTracker()
    here, there = hub(store, tracker), hub(store, tracker)
    out = Recorder()
    fid = await here.start(
        responder=out, lang=Lang.EN, budget=budget("console"), target=TARGET, initial=["old"], card_key="chat:card-1"
    )
    assert fid is not None
    await until(lambda: len(out.updates) >= 2, "a few updates")
    assert await there.stop(fid) is False  # not running there: it marks the stop in the store
    await until(lambda: here.active == 0 and here.streams() == 0, "the follow to stop here")
    final = out.updates[-1][1]
    assert "stopped by hand" in str(final.blocks)
    await tracker.close()


async def test_one_card_is_followed_by_one_replica_only(store: Store) -> None:
    tracker = TaskTracker()
    here, there = hub(store, tracker), hub(store, tracker)
    first = await here.start(
        responder=Recorder(), lang=Lang.EN, budget=budget("console"), target=TARGET, initial=[], card_key="chat:c2"
    )
    second = await there.start(
        responder=Recorder(), lang=Lang.EN, budget=budget("console"), target=TARGET, initial=[], card_key="chat:c2"
    )
    assert first is not None and second is None and there.active == 0
    await here.stop(first)
    await until(lambda: here.active == 0, "the follow to stop")
    await tracker.close()


async def test_a_follow_ends_by_itself_with_a_visible_note_and_feishu_cards_stay_within_their_edits(
    store: Store,
) -> None:
    tracker = TaskTracker()
    h = FollowHub(source=lines_every(0.02), store=store, tracker=tracker, config=FollowConfig(seconds=6, interval=0.5))
    out = Recorder()
    await h.start(responder=out, lang=Lang.ZH, budget=budget("feishu"), target=TARGET, initial=[], card_key="chat:c3")
    await until(lambda: h.active == 0, "the follow to end by itself")
    final = out.updates[-1][1]
    assert "到达时限" in str(final.blocks)
    codes = [b for b in final.blocks if isinstance(b, Code)]
    assert codes and "line" in codes[-1].text
    assert len(out.updates) <= 18  # one Feishu message, within its edit cap
    await tracker.close()
