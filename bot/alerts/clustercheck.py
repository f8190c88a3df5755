"""Verifying a runbook's fix without Prometheus: the runbook's cluster condition.

Every workload runbook names its workload (`namespace`, `deployment` parameters); its condition on the cluster
is that workload healthy again, as the `workload_health` read tool judges it (rollout complete, every pod ready,
no warning findings). Runbooks about nodes have no such condition here: they stay "cannot verify". The card
says which way it was verified, so nobody mistakes a cluster check for a metric.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.core.i18n import Lang, tr
from bot.tooling.types import ToolCall, ToolOutcome
from tools.runbooks import Runbook

log = logging.getLogger(__name__)

HEALTH_TOOL = "workload_health"


class _Gateway(Protocol):
    async def call(self, call: ToolCall) -> ToolOutcome: ...


class _Follower(Protocol):
    gateway: Any
    poll_seconds: float
    clock: Callable[[], float]

    def _note(
        self, incident_id: str, kind: str, who: str = "", detail: str = "", **changes: Any
    ) -> Awaitable[None]: ...


async def workload_healthy(gateway: _Gateway, namespace: str, name: str) -> tuple[bool | None, str]:
    """(healthy?, why not): None when the cluster could not be read."""
    outcome = await gateway.call(ToolCall(HEALTH_TOOL, {"namespace": namespace, "name": name}))
    if not outcome.ok or outcome.data is None:
        return None, (outcome.error or "no answer")[:120]
    if outcome.data.get("healthy"):
        return True, ""
    findings = [str(f.get("problem") or "") for f in outcome.data.get("findings") or []]  # tools.k8s Finding
    return False, "; ".join(f for f in findings if f)[:120]


async def verify_on_cluster(
    follower: _Follower, incident_id: str, book: Runbook, values: dict[str, str], lang: Lang
) -> None:
    namespace, name = values.get("namespace", ""), values.get("deployment", "")
    if follower.gateway is None or not namespace or not name:
        await follower._note(incident_id, "verify_unknown")  # the entry itself says why: no Prometheus
        return
    deadline = follower.clock() + book.verify.timeout_seconds
    last = ""
    while follower.clock() < deadline:
        healthy, why = await workload_healthy(follower.gateway, namespace, name)
        if healthy:
            await follower._note(
                incident_id,
                "verified",
                detail=tr(
                    lang,
                    "集群状态：{w} 已恢复健康（未配置 Prometheus，按集群状态验证）",
                    "cluster: {w} is healthy again (no Prometheus: verified on the cluster)",
                    w=f"{namespace}/{name}",
                ),
            )
            return
        last = why
        await asyncio.sleep(max(follower.poll_seconds, 1.0))
    await follower._note(
        incident_id,
        "verify_timeout",
        detail=tr(lang, "集群状态：{w} 仍不健康", "cluster: {w} still unhealthy", w=f"{namespace}/{name}"),
    )
    log.info("alerts: %s not verified on the cluster: %s", incident_id, last)
