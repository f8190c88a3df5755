"""Scripted incidents and the sandbox's own alerting (the demo without Prometheus): each drill breaks a workload
so the rules fire the alert its runbook answers; the runbook's own step, run through the real tools against the
sandbox, heals it; the alert then resolves on the bot's real webhook, in Alertmanager's format."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.clustercheck import workload_healthy
from bot.alerts.receiver import Receiver
from bot.alerts.service import AlertService
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from bot.tooling.types import ToolCall
from tests.alerts.helpers import TOKEN, RecordingOutbox, card_text
from tools.k8s.client import KubeClients
from tools.runbooks import Runbook, load_runbooks
from tools.sandbox.alerting import AlertEmitter, evaluate
from tools.sandbox.drill_client import DrillFailed, Target, trigger_remote
from tools.sandbox.incidents import IncidentError, trigger

KUBEDUTY = str(Path(sys.executable).with_name("kubeduty"))
BOOKS = {b.id: b for b in load_runbooks()[0]}

# kind -> (workload, the alert it raises, the runbook that fixes it)
DRILLS = {
    "oom": ("production", "orders", "KubePodOOMKilled", "oom-raise-memory"),
    "crashloop": ("production", "checkout", "KubePodCrashLooping", "crashloop-restart"),
    "imagepull": ("production", "web", "KubePodImagePullBackOff", "image-pull-rollback"),
    "pending": ("production", "checkout", "KubePodNotScheduled", "pending-scale-down"),
    "badrollout": ("dev", "cart-service-v1", "KubePodCrashLooping", "bad-rollout-rollback"),
}


@pytest.fixture
async def tools_gateway(sandbox: Any) -> AsyncIterator[ToolGateway]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=10.0)
    gw = ToolGateway([BuiltinSource(kube)])
    await gw.refresh()
    yield gw
    await kube.close()


def alerts_of(cluster: Any, namespace: str, deployment: str) -> list[dict[str, str]]:
    return [
        s.labels
        for s in evaluate(cluster)
        if s.labels["namespace"] == namespace and s.labels.get("deployment") == deployment
    ]


async def run_runbook(gateway: ToolGateway, book: Runbook, labels: dict[str, str]) -> None:
    """What the gate runs once approved: the runbook's steps, bound from the alert's labels, for real."""
    values = book.bind(labels)
    assert values is not None, f"{book.id} cannot bind {labels}"
    for step in book.steps:
        outcome = await gateway.call(ToolCall(step.tool, {**Runbook.fill(step, values), "dry_run": False}))
        assert outcome.ok, outcome.error


@pytest.mark.parametrize("kind", list(DRILLS))
async def test_each_drill_fires_the_alert_its_runbook_answers_and_the_runbooks_step_heals_the_workload(
    kind: str, sandbox: Any, tools_gateway: ToolGateway
) -> None:
    namespace, name, alertname, runbook = DRILLS[kind]
    healthy_before = kind == "oom" or (await workload_healthy(tools_gateway, namespace, name))[0]
    assert healthy_before
    done = trigger(sandbox.cluster, kind, name)
    assert (done.namespace, done.deployment) == (namespace, name)
    fired = [a for a in alerts_of(sandbox.cluster, namespace, name) if a["alertname"] == alertname]
    assert fired, alerts_of(sandbox.cluster, namespace, name)
    book = BOOKS[runbook]
    assert book.matches(alertname, fired[0])
    await run_runbook(tools_gateway, book, fired[0])
    assert alerts_of(sandbox.cluster, namespace, name) == []
    assert (await workload_healthy(tools_gateway, namespace, name))[0] is True


def test_a_drill_on_an_unknown_kind_or_workload_is_refused_and_changes_nothing(sandbox: Any) -> None:
    before = sandbox.cluster.resource_version
    with pytest.raises(IncidentError, match="unknown incident"):
        trigger(sandbox.cluster, "flood", "orders")
    with pytest.raises(IncidentError, match="no Deployment"):
        trigger(sandbox.cluster, "oom", "nosuch")
    assert sandbox.cluster.resource_version == before


async def test_the_sandbox_posts_alertmanager_webhooks_that_open_one_card_and_resolve_it_after_the_fix(
    sandbox: Any, tools_gateway: ToolGateway, service: AlertService, receiver: Receiver, outbox: RecordingOutbox
) -> None:
    posted: list[dict[str, Any]] = []
    emitter = AlertEmitter(
        sandbox.cluster, url=receiver.url, token=TOKEN, ignore_standing=True, group_wait=0, group_interval=0
    )
    emitter.prime()  # the seed's standing failures are known: only the drill pages
    assert await asyncio.to_thread(emitter.step) == []

    trigger(sandbox.cluster, "oom", "orders")
    posted += await asyncio.to_thread(emitter.step)
    (firing,) = posted
    assert firing["version"] == "4" and firing["status"] == "firing"
    assert firing["groupKey"] == '{}:{alertname="KubePodOOMKilled", deployment="orders", namespace="production"}'
    alert = firing["alerts"][0]
    assert alert["endsAt"] == "0001-01-01T00:00:00Z" and alert["startsAt"].endswith("Z")
    assert alert["fingerprint"] and alert["generatorURL"].startswith("http")
    assert alert["labels"]["container"] == "orders" and alert["labels"]["severity"] == "critical"
    cards = [s for s in outbox.sent if "KubePodOOMKilled" in s.card.title]
    assert len(cards) == 2, "one card in each of the two chats"  # the service's routing fixture: two chats

    assert await asyncio.to_thread(emitter.step) == [], "an unchanged group waits for repeat_interval"

    await run_runbook(tools_gateway, BOOKS["oom-raise-memory"], alert["labels"])
    (resolved,) = await asyncio.to_thread(emitter.step)
    assert resolved["status"] == "resolved" and resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert emitter.sent == 2 and emitter.failed == 0
    assert len([s for s in outbox.sent if "KubePodOOMKilled" in s.card.title]) == 2, "updated in place, no repost"
    assert all("已恢复" in card_text(s.latest) for s in cards)


async def test_the_incident_endpoint_lets_only_cluster_admin_break_the_cluster(sandbox: Any) -> None:
    def target(token: str | None) -> Target:
        return Target(server=sandbox.url, ca_pem=sandbox.ca_pem, token=token, cert_pem=None, key_pem=None)

    before = sandbox.cluster.resource_version
    for token, why in ((None, "not allowed (403)"), ("wrong-token", "not allowed (401)"), ("alice-token", "403")):
        with pytest.raises(DrillFailed, match=rf"{why.replace('(', '[(]').replace(')', '[)]')}"):
            await asyncio.to_thread(trigger_remote, target(token), "oom", "orders")
    with pytest.raises(DrillFailed, match="unknown incident"):
        await asyncio.to_thread(trigger_remote, target("sandbox-token"), "flood", "orders")
    with pytest.raises(DrillFailed, match="no Deployment named 'nosuch'"):
        await asyncio.to_thread(trigger_remote, target("sandbox-token"), "oom", "nosuch")
    assert sandbox.cluster.resource_version == before, "refused drills change nothing"
    done = await asyncio.to_thread(trigger_remote, target("sandbox-token"), "imagepull", "web", "production")
    assert done["deployment"] == "web" and "notfound" in done["detail"]


def test_kubeduty_sandbox_incident_breaks_a_running_sandbox_with_its_kubeconfig(sandbox: Any, tmp_path: Path) -> None:
    cmd = [KUBEDUTY, "sandbox", "incident", "oom", "orders", "--kubeconfig", str(sandbox.kubeconfig_path)]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert "incident oom on production/orders" in proc.stdout.decode()
    assert any(a["alertname"] == "KubePodOOMKilled" for a in alerts_of(sandbox.cluster, "production", "orders"))

    viewer = tmp_path / "viewer.kubeconfig"
    sandbox.write_kubeconfig(viewer, token="viewer-token")
    proc = subprocess.run([*cmd[:-1], str(viewer)], capture_output=True, timeout=120, check=False)
    assert proc.returncode == 1 and "cluster-admin" in proc.stdout.decode()
    assert "Traceback" not in proc.stderr.decode()


async def test_sandbox_serve_alone_pages_the_bot_and_a_cli_incident_pages_again(
    receiver: Receiver, outbox: RecordingOutbox, tmp_path: Path
) -> None:
    kubeconfig, token = tmp_path / "kc", tmp_path / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    serve = await asyncio.create_subprocess_exec(
        *(KUBEDUTY, "sandbox", "serve", "--port", "0", "--kubeconfig-out", str(kubeconfig)),
        *("--alert-webhook", receiver.url, "--alert-token-file", str(token)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )

    async def card(title: str) -> None:
        for _ in range(720):  # generous: a loaded machine starts the sandbox slowly
            if any(title in s.card.title for s in outbox.sent):
                return
            assert serve.returncode is None, "sandbox serve exited"
            await asyncio.sleep(0.25)
        raise AssertionError(f"no card {title!r}; got {[s.card.title for s in outbox.sent]}")

    try:
        # with no Prometheus, the sandbox's own rules page for the seed's standing OOM
        await card("KubePodOOMKilled · production/orders")
        cli = await asyncio.create_subprocess_exec(
            *(KUBEDUTY, "sandbox", "incident", "crashloop", "checkout", "--kubeconfig", str(kubeconfig)),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(cli.communicate(), 120)
        assert cli.returncode == 0, out.decode()
        await card("KubePodCrashLooping · production/checkout")
    finally:
        serve.terminate()
        await asyncio.wait_for(serve.wait(), 60)
