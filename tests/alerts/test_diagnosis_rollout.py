"""A bad rollout: the error rate rises right after a revision change, so the rollout ranks first and a rollback
is the first runbook proposed. Real parts: the sandbox rolls the deployment out (a new ReplicaSet whose pods
crash), a real Prometheus scrapes the error counters before and after, kubectl makes the change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from bot.alerts.causes import rank
from bot.alerts.diagnosis import Diagnoser, RunbookBook
from bot.core.i18n import Lang
from bot.render.text import render_card
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from tests.alerts.diagnosis_world import EVENT, eventually, incident, instant, start_scraping, wait_for_rates
from tests.conversation.corpus.zh_check import english_problems
from tools.k8s.client import KubeClients
from tools.prom import PromClient
from tools.sandbox import SandboxHandle
from tools.sandbox.specs import BEHAVIOUR

pytestmark = pytest.mark.timeout(300)
ERRORS = (
    'sum(rate(http_requests_total{namespace="production",service="checkout",code=~"5.."}[1m])) / '
    'sum(rate(http_requests_total{namespace="production",service="checkout"}[1m]))'
)


@pytest.fixture
async def gateway(sandbox: SandboxHandle) -> AsyncIterator[ToolGateway]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=20)
    yield ToolGateway([BuiltinSource(kube)])
    await kube.close()


async def kubectl(sandbox: SandboxHandle, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out = (await asyncio.wait_for(proc.communicate(), 120))[0].decode()
    assert proc.returncode == 0, out
    return out


async def test_an_error_rate_rising_right_after_a_revision_change_ranks_the_rollout_first_and_proposes_a_rollback(
    sandbox: SandboxHandle, gateway: ToolGateway
) -> None:
    prom = await asyncio.to_thread(start_scraping, sandbox)
    try:
        await asyncio.to_thread(wait_for_rates, prom)
        # a healthy baseline first: checkout answers without errors for a while before the rollout
        await eventually(
            lambda: True if (instant(prom, f"count_over_time(({ERRORS})[1m:1s])") or 0) >= 10 else None,
            "an error-free baseline of checkout",
        )
        assert (instant(prom, ERRORS) or 0) == 0
        patch = {"spec": {"template": {"metadata": {"annotations": {BEHAVIOUR: "crashloop"}}}}}
        await kubectl(sandbox, "-n", "production", "patch", "deployment/checkout", "-p", json.dumps(patch))
        rate = await eventually(
            lambda: v if (v := instant(prom, ERRORS)) is not None and v > 0.1 else None,
            "checkout's error rate to rise after the rollout",
        )
        assert rate > 0.1

        d = Diagnoser(prom=PromClient(prom.url), book=RunbookBook(), gateway=gateway)
        # the shipped HighErrorRate rule labels the service: the deployment is derived from it
        inc = incident("HighErrorRate", "production", service="checkout", pod="")
        ev = await d.evidence(inc, EVENT, Lang.EN)
        causes = rank(ev, Lang.EN)
        assert causes[0].finding == "RecentRollout", (
            [(c.finding, c.score, c.evidence) for c in causes],
            ev.metrics.error_series[-8:] if ev.metrics else None,
            ev.now,
            ev.cluster.health.rollouts if ev.cluster and ev.cluster.health else None,
        )
        evidence = "\n".join(causes[0].evidence)
        assert "rolled out revision 2" in evidence and "5xx error rate rose to" in evidence, evidence
        assert "(before: 0%)" in evidence, "the baseline before the revision change"
        assert "pod(s) of the new revision unhealthy" in evidence

        card, top = await d.diagnose(inc, EVENT, Lang.EN)
        first = RunbookBook().books[str(card.buttons[0].action.args["r"])]
        assert first.steps[0].tool == "rollback_deployment", [b.label for b in card.buttons]
        assert top is not None and top.startswith("The latest rollout broke it")
        zh, _ = await d.diagnose(inc, EVENT, Lang.ZH)
        assert "发布后 5xx 错误率升至" in render_card(zh) and "回滚" in zh.buttons[0].label
        assert english_problems(zh, known_names=frozenset({"production", "checkout", "INC-DIAG"})) == []
    finally:
        await asyncio.to_thread(prom.stop)
