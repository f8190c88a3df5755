"""The shift report reads the cluster and the audit trail too: the unhealthy workloads (the overview tool against
the real sandbox), and every change executed during the shift, with who asked and who approved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.alerts.handover import Handover
from bot.alerts.model import WebhookPayload
from bot.alerts.service import AlertService
from bot.approvals.audit import AuditEntry, AuditLog
from bot.core.i18n import Lang
from bot.store import Store
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from tests.alerts.helpers import RecordingOutbox, alert, card_text, payload
from tools.k8s.client import KubeClients


@pytest.fixture
async def tools_gateway(sandbox: Any) -> AsyncIterator[ToolGateway]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=10.0)
    gw = ToolGateway([BuiltinSource(kube)])
    await gw.refresh()
    yield gw
    await kube.close()


def report_title(outbox: RecordingOutbox) -> str:
    return outbox.sent[-1].card.title


def next_minute() -> datetime:
    """A slot just ahead: the shift it closes holds what the test records now."""
    return (datetime.now(UTC) + timedelta(minutes=1)).replace(second=0, microsecond=0)


async def test_the_report_lists_the_clusters_unhealthy_workloads_open_incidents_and_the_audited_changes(
    service: AlertService, store: Store, outbox: RecordingOutbox, tools_gateway: ToolGateway
) -> None:
    await service.receive(WebhookPayload.model_validate(payload([alert()], group="oom")))
    audit = AuditLog(store=store)
    await audit.record(
        AuditEntry(
            event="execute",
            platform="console",
            chat="console",
            user="alice",
            request="set_container_resources production/orders memory_limit=512Mi",
            decision="executed",
            approvers="console:bob",
        )
    )
    await audit.record(  # refused and read-only entries are not changes
        AuditEntry(
            event="refuse", platform="console", chat="console", user="eve", request="delete_pod x", decision="deny"
        )
    )
    before = len(outbox.sent)
    handover = Handover(
        service=service,
        store=store,
        outbox=lambda: outbox,
        times=["09:00", "21:00"],
        chats=["feishu:oc-shift"],
        gateway=tools_gateway,
    )
    assert await handover.send(next_minute())
    (report,) = outbox.sent[before:]
    text = card_text(report.card)
    # the demo seed's standing failures, from the cluster itself
    for broken in ("production/orders", "production/report-worker", "dev/payment-api", "dev/frontend"):
        assert broken in text, broken
    assert "CrashLoopBackOff" in text and "异常工作负载" in text
    assert "当前进行中 1 个" in text and "KubePodOOMKilled" in text
    assert "本班次的变更" in text and "alice" in text and "bob 批准" in text and "memory_limit=512Mi" in text
    assert "delete_pod" not in text and "eve" not in text


async def test_a_cluster_that_cannot_be_read_leaves_that_part_unknown_and_the_report_still_goes_out(
    service: AlertService, store: Store, outbox: RecordingOutbox, sandbox: Any, tools_gateway: ToolGateway
) -> None:
    sandbox.cluster.set_down(True)
    handover = Handover(
        service=service,
        store=store,
        outbox=lambda: outbox,
        times=["09:00", "21:00"],
        chats=["feishu:oc-shift"],
        gateway=tools_gateway,
        lang=Lang.EN,
    )
    try:
        assert await handover.send(next_minute())
    finally:
        sandbox.cluster.set_down(False)
    text = card_text(outbox.sent[-1].card)
    assert "could not read the cluster" in text and "Shift handover report" in report_title(outbox)
    assert "none." in text, "no change was executed in this shift"
