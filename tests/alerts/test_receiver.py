"""The webhook receiver over real HTTP, on real Redis: one card per group updated in place, redeliveries and
replicas produce one card, bad input gets a 4xx and changes nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from bot.alerts.receiver import Receiver
from bot.alerts.routing import Routing
from bot.alerts.service import AlertService
from bot.core.tasks import TaskTracker
from bot.store import Store
from tests.alerts.conftest import CHATS
from tests.alerts.helpers import AUTH, RecordingOutbox, alert, card_text, payload


async def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async with http.post(url, data=data, headers={"Content-Type": "application/json", **(headers or {})}) as r:
            return r.status, await r.json(content_type=None)


async def test_a_firing_group_posts_one_card_per_routed_chat_and_updates_it_in_place(
    receiver: Receiver, outbox: RecordingOutbox
) -> None:
    first = payload([alert(pod="orders-1")])
    status, body = await post(receiver.url, first, AUTH)
    assert status == 200 and body["outcome"] == "applied"
    assert sorted(s.chat for s in outbox.sent) == sorted(CHATS)
    text = card_text(outbox.sent[0].card)
    assert "KubePodOOMKilled" in text and "production/orders-1" in text and "认领" in text

    second = payload([alert(pod="orders-1"), alert(pod="orders-2")])
    status, _ = await post(receiver.url, second, AUTH)
    assert status == 200
    assert len(outbox.sent) == 2, "a repeat with a new alert updates the card, never a new message"
    assert all(len(s.updates) == 1 for s in outbox.sent)
    assert "orders-2" in card_text(outbox.sent[0].latest) and "2 条告警中" in outbox.sent[0].latest.title

    resolved = payload([alert(pod="orders-1", status="resolved"), alert(pod="orders-2", status="resolved")])
    status, _ = await post(receiver.url, resolved, AUTH)
    assert status == 200
    final = outbox.sent[0].latest
    assert final.title.startswith("[P1] 已恢复") and "事件报告" in card_text(final) and not final.buttons


async def test_a_redelivered_post_changes_nothing(receiver: Receiver, outbox: RecordingOutbox) -> None:
    body = payload([alert()])
    assert (await post(receiver.url, body, AUTH))[0] == 200
    status, answer = await post(receiver.url, body, AUTH)
    assert status == 200 and answer["outcome"] == "duplicate"
    assert len(outbox.sent) == 2 and all(not s.updates for s in outbox.sent)


async def test_two_replicas_receiving_the_same_post_at_once_produce_one_card_per_chat(
    store: Store, outbox: RecordingOutbox
) -> None:
    trackers = [TaskTracker(), TaskTracker()]
    replicas = [AlertService(store=store, routing=Routing.single(CHATS), tracker=t, outbox=outbox) for t in trackers]
    receivers = [Receiver(s, token="test-alerts-token", port=0) for s in replicas]
    for r in receivers:
        await r.start()
    try:
        body = payload([alert(pod=f"orders-{i}") for i in range(3)])
        results = await asyncio.gather(*(post(r.url, body, AUTH) for r in receivers for _ in range(3)))
        assert all(status == 200 for status, _ in results)
        assert sorted(s.chat for s in outbox.sent) == sorted(CHATS)
        assert sum(1 for _, b in results if b["outcome"] == "applied") == 1
    finally:
        for r in receivers:
            await r.close()
        for t in trackers:
            await t.close()


async def test_unauthenticated_malformed_and_oversized_posts_get_4xx_and_change_nothing(
    receiver: Receiver, outbox: RecordingOutbox, service: AlertService
) -> None:
    good = payload([alert()])
    cases: list[tuple[Any, dict[str, str], int]] = [
        (good, {}, 401),
        (good, {"Authorization": "Bearer wrong"}, 401),
        (good, {"Authorization": "Basic dGVzdA=="}, 401),
        (b"{not json", AUTH, 400),
        (b"[1, 2, 3]", AUTH, 400),
        ({**good, "alerts": []}, AUTH, 400),
        ({**good, "status": "exploded"}, AUTH, 400),
        ({k: v for k, v in good.items() if k != "groupKey"}, AUTH, 400),
        ({**good, "alerts": [{**alert(), "labels": {"x": "y" * 100_000}}]}, AUTH, 400),
        (b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', AUTH, 413),
    ]
    for body, headers, expected in cases:
        status, answer = await post(receiver.url, body, headers)
        assert status == expected, (status, answer, expected)
        assert "Traceback" not in json.dumps(answer)
    assert outbox.sent == []
    assert await service.incidents.recent(5) == []


class _Down:
    """A platform that refuses every call (gateway down): the receiver must make Alertmanager retry."""

    def __init__(self) -> None:
        self.down = True

    def responder(self, chat_key: str, lang: object) -> object:
        outer = self

        class R:
            async def send(self, card: object) -> str:
                if outer.down:
                    raise ConnectionError("platform down")
                return "msg-1"

            async def update(self, ref: str, card: object) -> None:
                if outer.down:
                    raise ConnectionError("platform down")

            async def toast(self, text: str) -> None:
                pass

        return R()


async def test_a_post_whose_card_cannot_be_delivered_gets_503_and_the_retry_delivers_it(
    receiver: Receiver, service: AlertService
) -> None:
    down = _Down()
    service.outbox = down  # type: ignore[assignment]
    body = payload([alert()])
    status, answer = await post(receiver.url, body, AUTH)
    assert status == 503 and sorted(answer["chats"]) == sorted(CHATS)
    down.down = False
    status, answer = await post(receiver.url, body, AUTH)  # Alertmanager's retry: same body
    assert status == 200 and answer["outcome"] == "applied", "a failed delivery is not marked as done"
    inc = await service.incidents.get(answer["incident"])
    assert inc is not None and set(inc.cards) == set(CHATS)
