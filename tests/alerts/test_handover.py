"""The shift report: one replica sends it (a lease in Redis), with open incidents, noisy alerts and changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.alerts.handover import Handover, next_slot, parse_times
from bot.alerts.model import WebhookPayload
from bot.alerts.service import AlertService
from bot.store import Store
from tests.alerts.helpers import RecordingOutbox, alert, card_text, payload


def test_handover_times_are_validated_and_the_next_slot_wraps_to_tomorrow() -> None:
    times = parse_times(["21:00", "09:00"])
    assert next_slot(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), times) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert next_slot(datetime(2026, 11, 30, 22, 0, tzinfo=UTC), times) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="25:00"):
        parse_times(["25:00"])


async def test_two_replicas_at_the_same_slot_send_one_report_listing_what_is_open_and_noisy(
    service: AlertService, store: Store, outbox: RecordingOutbox
) -> None:
    for g in range(3):
        await service.receive(
            WebhookPayload.model_validate(payload([alert("HighErrorRate", pod=f"p{g}")], group=f"g{g}"))
        )
    await service.receive(WebhookPayload.model_validate(payload([alert(status="firing")], group="oom")))
    before = len(outbox.sent)
    replicas = [
        Handover(
            service=service, store=store, outbox=lambda: outbox, times=["09:00", "21:00"], chats=["feishu:oc-shift"]
        )
        for _ in range(2)
    ]
    slot = datetime.fromtimestamp(service.clock(), UTC).replace(second=0, microsecond=0)
    sent = await asyncio.gather(*(r.send(slot) for r in replicas))
    assert sorted(sent) == [False, True]
    (report,) = outbox.sent[before:]
    text = card_text(report.card)
    assert report.chat == "feishu:oc-shift" and report.card.title == "值班交接报告"
    assert "当前进行中 4 个" in text and "HighErrorRate × 3" in text and "KubePodOOMKilled" in text
