"""Fixtures for the alert tests: the service on real Redis with a recording outbox, and its webhook served over
real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.alerts.receiver import Receiver
from bot.alerts.routing import Routing
from bot.alerts.service import AlertService
from bot.core.tasks import TaskTracker
from bot.store import Store
from tests.alerts.helpers import TOKEN, RecordingOutbox

CHATS = ["feishu:oc-oncall", "dingtalk:cid-oncall"]


@pytest.fixture
def outbox() -> RecordingOutbox:
    return RecordingOutbox()


@pytest.fixture
async def tracker() -> AsyncIterator[TaskTracker]:
    t = TaskTracker()
    yield t
    await t.close()


@pytest.fixture
def service(store: Store, outbox: RecordingOutbox, tracker: TaskTracker) -> AlertService:
    return AlertService(
        store=store,
        routing=Routing.single(CHATS, oncall=["feishu:ou-alice"]),
        tracker=tracker,
        outbox=outbox,
        storm_flush_seconds=0.2,
    )


@pytest.fixture
async def receiver(service: AlertService) -> AsyncIterator[Receiver]:
    r = Receiver(service, token=TOKEN, host="127.0.0.1", port=0)
    await r.start()
    yield r
    await r.close()


# the channel tests' emulators and runner fixture, reused by the end-to-end test
from tests.channels.conftest import (  # noqa: E402
    _loopback_without_proxy,  # noqa: F401
    dingtalk_gateway,  # noqa: F401
    feishu_gateway,  # noqa: F401
    serve_bot,  # noqa: F401
)
