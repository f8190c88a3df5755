"""Rollouts and rollbacks in a live sandbox follow RollingUpdate's maxSurge / maxUnavailable as a real cluster's
deployment controller does, checked with the real `kubectl rollout undo` and `kubectl rollout status`.

The live sandbox runs at speed 60; every wait polls for a state with a generous deadline, nothing asserts how
long it took."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.sandbox.conftest import KUBECTL
from tools.sandbox import SandboxHandle, start_sandbox_thread
from tools.sandbox.incidents import trigger

pytestmark = pytest.mark.timeout(300)
NS = "production"


@pytest.fixture
def live() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(live=True, speed=60)
    try:
        yield handle
    finally:
        handle.stop()


def eventually(check: Callable[[], Any], what: str, within: float = 120.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {within}s: {what}")
        time.sleep(0.2)


def kubectl(handle: SandboxHandle, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(handle.kubeconfig_path), *args], capture_output=True, text=True, timeout=180
    )


def pods(handle: SandboxHandle, app: str) -> list[dict[str, Any]]:
    out = kubectl(handle, "get", "pods", "-n", NS, "-l", f"app={app}", "-o", "json")
    assert out.returncode == 0, out.stderr
    items: list[dict[str, Any]] = json.loads(out.stdout)["items"]
    return items


def waiting_reason(pod: dict[str, Any]) -> str:
    state = (pod["status"].get("containerStatuses") or [{}])[0].get("state") or {}
    return str((state.get("waiting") or {}).get("reason", ""))


def crash_looping(handle: SandboxHandle, app: str) -> list[str]:
    return [p["metadata"]["name"] for p in pods(handle, app) if waiting_reason(p) == "CrashLoopBackOff"]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def test_a_bad_release_surges_one_pod_while_the_old_ones_serve_and_rollout_undo_removes_it(
    live: SandboxHandle,
) -> None:
    before = {p["metadata"]["labels"]["pod-template-hash"] for p in pods(live, "checkout")}
    trigger(live.cluster, "badrollout", "checkout", NS)  # what `/drill badrollout checkout` does
    bad = eventually(lambda: crash_looping(live, "checkout"), "the new release's pod crash-loops")

    # 2 replicas: maxSurge 1, maxUnavailable 0 — one new pod, both old pods keep serving (not 2 new ones)
    now = pods(live, "checkout")
    assert len(bad) == 1 and len(now) == 3
    assert sum(1 for p in now if ready(p) and p["metadata"]["labels"]["pod-template-hash"] in before) == 2
    stuck = kubectl(live, "rollout", "status", "deployment/checkout", "-n", NS, "--timeout=3s")
    assert stuck.returncode != 0 and "1 out of 2 new replicas have been updated" in stuck.stdout

    undo = kubectl(live, "rollout", "undo", "deployment/checkout", "-n", NS)
    assert undo.returncode == 0 and "rolled back" in undo.stdout, undo.stderr
    done = kubectl(live, "rollout", "status", "deployment/checkout", "-n", NS, "--timeout=150s")
    assert done.returncode == 0 and 'deployment "checkout" successfully rolled out' in done.stdout, done.stderr
    eventually(lambda: len(pods(live, "checkout")) == 2, "the bad revision's pod is gone")
    after = pods(live, "checkout")
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in after} == before
    assert all(ready(p) for p in after) and not crash_looping(live, "checkout")


def test_with_max_unavailable_one_a_rollback_removes_the_crash_looping_pod_of_a_one_replica_deployment(
    live: SandboxHandle,
) -> None:
    """orders (1 replica) is OOMKilled in the seed. With maxUnavailable 1 the controller may take its only pod
    down, so the unhealthy pods of the revision rolled away from are removed first, both ways."""
    patched = kubectl(
        live,
        "patch",
        "deployment/orders",
        "-n",
        NS,
        "-p",
        '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":1}}}}',
    )
    assert patched.returncode == 0, patched.stderr
    trigger(live.cluster, "badrollout", "orders", NS)
    eventually(
        lambda: [waiting_reason(p) for p in pods(live, "orders")] == ["CrashLoopBackOff"],
        "the bad release replaces the OOMKilled pod instead of joining it",
    )
    undo = kubectl(live, "rollout", "undo", "deployment/orders", "-n", NS)
    assert undo.returncode == 0, undo.stderr
    eventually(lambda: not crash_looping(live, "orders"), "the crash-looping pod is removed after the rollback")
    assert len(pods(live, "orders")) == 1


def test_with_the_default_strategy_a_rollback_to_an_unhealthy_revision_keeps_the_bad_pod_as_a_real_cluster_does(
    live: SandboxHandle,
) -> None:
    """maxUnavailable rounds down to 0 for 1 replica: the rolled-back revision's unavailable pod uses the whole
    budget, so the controller removes nothing, and `kubectl rollout status` keeps waiting (no laxer than real)."""
    trigger(live.cluster, "badrollout", "orders", NS)
    eventually(lambda: crash_looping(live, "orders"), "the new release's pod crash-loops")
    undo = kubectl(live, "rollout", "undo", "deployment/orders", "-n", NS)
    assert undo.returncode == 0, undo.stderr
    waiting = kubectl(live, "rollout", "status", "deployment/orders", "-n", NS, "--timeout=5s")
    assert waiting.returncode != 0 and "successfully rolled out" not in waiting.stdout
    assert len(crash_looping(live, "orders")) == 1 and len(pods(live, "orders")) == 2
