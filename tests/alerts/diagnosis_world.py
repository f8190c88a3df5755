"""A sandbox cluster scraped by a real Prometheus, the built-in tools against it, and incidents shaped as
Alertmanager sends them: what the diagnosis tests run against (no fakes of the cluster or of Prometheus)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
import yaml

from bot.alerts.incidents import Incident
from bot.alerts.model import WebhookPayload
from bot.core.events import Conversation, MessageEvent, Platform, Sender
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from tests.alerts.helpers import alert, payload
from tests.support.prom import Server, start_prometheus
from tools.k8s.client import KubeClients
from tools.sandbox import SandboxHandle, start_sandbox_thread

T = TypeVar("T")
EVENT = MessageEvent("e-diag", Conversation(Platform.FEISHU, "oc-oncall", is_group=True), Sender("alice", "Alice"), "")


def start_scraping(sandbox: SandboxHandle) -> Server:
    """Prometheus scraping the sandbox's /metrics every second (no rules: the tests build the incidents)."""
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: run `python -m tests.support.debian`")
    cfg = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "sandbox",
                "scheme": "https",
                "tls_config": {"ca_file": str(sandbox.ca_path)},
                "authorization": {"credentials": "sandbox-token"},
                "static_configs": [{"targets": [sandbox.url.split("://", 1)[1]]}],
            }
        ],
    }
    return start_prometheus(yaml.safe_dump(cfg), {})


def instant(prom: Server, expr: str) -> float | None:
    url = f"{prom.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            doc = json.load(resp)
    except OSError:
        return None
    result = doc.get("data", {}).get("result") or []
    try:
        value = float(result[0]["value"][1])
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    return None if value != value else value


def wait_sync(check: Callable[[], bool], what: str, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


async def eventually(find: Callable[[], T | None], what: str, within: float = 120.0) -> T:
    deadline = time.monotonic() + within
    while True:
        found = await asyncio.to_thread(find)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def wait_for_rates(prom: Server) -> None:
    """Enough scrapes for `rate()`/`increase()` over the sandbox's counters to have values."""
    wait_sync(
        lambda: (
            (instant(prom, 'count_over_time(up{job="sandbox"}[1m])') or 0) >= 6
            and instant(prom, 'sum(rate(http_requests_total{namespace="production"}[5m]))') is not None
        ),
        "Prometheus to scrape the sandbox a few times",
    )


def incident(name: str, namespace: str, *, title: str = "", **labels: str) -> Incident:
    """An incident as the webhook builds it, its alert starting now."""
    a: dict[str, Any] = alert(name, namespace=namespace, **labels)
    a["startsAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    common = {k: v for k, v in labels.items() if k in ("deployment", "service", "container")}
    p = WebhookPayload.model_validate(payload([a], **common))
    inc = Incident(id="INC-DIAG", group_key="g", opened_at=time.time(), title=title or f"{name} · {namespace}")
    inc.merge(p.alerts, time.time())
    return inc


@dataclass
class World:
    sandbox: SandboxHandle
    prom: Server | None


@pytest.fixture(scope="module", name="world")
def world_fixture() -> Iterator[World]:
    """One demo cluster and one Prometheus scraping it, for a module's read-only tests."""
    sandbox = start_sandbox_thread(seed="demo", port=0)
    prom = None
    try:
        prom = start_scraping(sandbox)
        wait_for_rates(prom)
        yield World(sandbox, prom)
    finally:
        if prom is not None:
            prom.stop()
        sandbox.stop()


@pytest.fixture(name="gateway")
async def gateway_fixture(world: World) -> AsyncIterator[ToolGateway]:
    """The built-in tools against the world's cluster (the real kubernetes client over HTTP)."""
    kube = KubeClients(kubeconfig=world.sandbox.kubeconfig_path, context="sandbox", timeout_seconds=20)
    yield ToolGateway([BuiltinSource(kube)])
    await kube.close()
