"""Fixtures for the channel tests: gateway emulators, and the runner serving a bot against them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.channels import runner
from bot.core.actions import Action, ActionCodec, InvalidPayload
from bot.core.dispatcher import Dispatcher
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent
from bot.core.i18n import tr
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render.model import Button, Card, Markdown
from bot.settings import Settings
from bot.store import Store
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both SDKs honour HTTP(S)_PROXY; the emulators are on loopback.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def dingtalk_gateway() -> Iterator[DingTalkEmulator]:
    emu = DingTalkEmulator()
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def feishu_gateway() -> Iterator[FeishuEmulator]:
    emu = FeishuEmulator()
    emu.start()
    yield emu
    emu.stop()


def platform_settings(
    dingtalk: DingTalkEmulator | None = None, feishu: FeishuEmulator | None = None, **extra: Any
) -> Settings:
    values: dict[str, Any] = {"_env_file": None}
    for key in ("dingtalk_client_id", "dingtalk_client_secret", "feishu_app_id", "feishu_app_secret"):
        values[key] = None
    if dingtalk is not None:
        values |= {
            "dingtalk_client_id": dingtalk.client_id,
            "dingtalk_client_secret": dingtalk.client_secret,
            "dingtalk_openapi_endpoint": dingtalk.url,
            "dingtalk_card_template_id": dingtalk.template_id,
        }
    if feishu is not None:
        values |= {"feishu_app_id": feishu.app_id, "feishu_app_secret": feishu.app_secret, "feishu_domain": feishu.url}
    return Settings(**(values | extra))


# --- an echo bot: the real dispatcher, codec and store, with a tiny handler (adapter-level tests) -----------------


@dataclass
class EchoBot:
    dispatcher: Dispatcher
    codec: ActionCodec
    tracker: TaskTracker
    seen: list[InboundEvent]
    store: Store | None = None  # adapters cache people's display names here
    started: bool = False
    closed: bool = False

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True
        await self.tracker.close()


def make_echo_bot(store: Store) -> EchoBot:
    codec = ActionCodec("channel-test-secret", ttl_seconds=600)
    seen: list[InboundEvent] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        seen.append(event)
        if isinstance(event, MessageEvent):
            lang = event.lang
            await responder.send(
                Card(
                    title=f"echo: {event.text}",
                    blocks=(Markdown(tr(lang or "en", "收到", "got it")),),
                    buttons=(Button("again", Action("again", {"text": event.text})),),
                )
            )
        elif isinstance(event, CardActionEvent):
            try:
                action = codec.decode(event.payload, event.conversation.chat_key)
            except InvalidPayload as exc:
                await responder.toast(f"refused: {exc.reason.value}")
                return
            await responder.toast(f"clicked {action.op}")
            assert event.message_ref is not None
            await responder.update(event.message_ref, Card(title=f"clicked: {action.args['text']}"))

    tracker = TaskTracker()
    return EchoBot(Dispatcher(store=store, handler=handler, tracker=tracker), codec, tracker, seen, store)


Serve = Callable[[Settings, Any], Awaitable[None]]


@pytest.fixture
async def serve_bot() -> AsyncIterator[Serve]:
    """`await serve_bot(settings, bot_or_builder)`: runs `runner.serve` in the background until the test ends."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[int]] = []

    async def start(settings: Settings, bot: Any) -> None:
        build = bot if callable(bot) else (lambda _s: bot)
        tasks.append(asyncio.create_task(runner.serve(settings, build, stop)))
        await asyncio.sleep(0)

    yield start
    stop.set()
    for task in tasks:
        assert await asyncio.wait_for(task, 30) == 0
