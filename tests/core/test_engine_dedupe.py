"""The engine checks redeliveries in the round trip that takes the conversation lock: a frame delivered twice,
to one replica or to two sharing Redis, is answered once; a retry of our own claim is still ours."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from bot.app import Bot, build_bot
from bot.approvals.port import ReadOnlyGate
from bot.core.events import Conversation, MessageEvent, Platform, Sender
from bot.render.model import Card
from bot.settings import load_settings
from bot.store import Store, open_store
from tools.sandbox import SandboxHandle


class Recorder:
    def __init__(self) -> None:
        self.cards: list[Card] = []

    async def send(self, card: Card) -> str | None:
        self.cards.append(card)
        return str(len(self.cards))

    async def update(self, ref: str, card: Card) -> None:
        self.cards.append(card)

    async def toast(self, text: str) -> None:
        pass


def make_bot(store: Store, sandbox: SandboxHandle) -> Bot:
    settings = load_settings(kubeconfig=str(sandbox.kubeconfig_path), kube_context="sandbox")
    return build_bot(settings, store=store, gate=ReadOnlyGate(), progress_after=0)


@pytest.fixture
async def bots(store: Store, redis_url: str, sandbox_session: SandboxHandle) -> AsyncIterator[list[Bot]]:
    second_store = open_store(redis_url, prefix=store.keys.prefix)  # a second replica on the same Redis
    made = [make_bot(store, sandbox_session), make_bot(second_store, sandbox_session)]
    yield made
    for b in made:
        await b.close()
    await second_store.close()


def hello(event_id: str) -> MessageEvent:
    return MessageEvent(event_id, Conversation(Platform.FEISHU, "oc_dedupe", True), Sender("ou_1", "Ann"), "/help")


async def test_the_engine_is_handed_the_dedupe_check_and_answers_a_redelivered_frame_once(bots: list[Bot]) -> None:
    bot = bots[0]
    out = Recorder()
    event_id = uuid.uuid4().hex
    await bot.dispatcher.submit(hello(event_id), out)
    await bot.dispatcher.submit(hello(event_id), out)
    await bot.dispatcher.drain()
    assert len(out.cards) == 1
    await bot.dispatcher.submit(hello(uuid.uuid4().hex), out)  # a new frame is answered as usual
    await bot.dispatcher.drain()
    assert len(out.cards) == 2


async def test_two_replicas_given_the_same_frame_answer_it_once(bots: list[Bot]) -> None:
    outs = [Recorder(), Recorder()]
    event_id = uuid.uuid4().hex
    await asyncio.gather(*(b.dispatcher.submit(hello(event_id), o) for b, o in zip(bots, outs, strict=True)))
    for b in bots:
        await b.dispatcher.drain()
    assert sorted(len(o.cards) for o in outs) == [0, 1]
