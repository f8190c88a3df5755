"""Time that moves (live mode) and the freeze switch; the distinct staging cluster.

Live sandboxes run at speed 60 here (a 5-minute back-off lasts 5 s, a pod starts in ~0.1 s): every wait polls
for the state with a generous deadline, nothing asserts how long it took."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.sandbox.conftest import KUBECTL
from tools.sandbox import SandboxHandle, start_sandbox_thread


def eventually(check: Callable[[], Any], within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {within}s")
        time.sleep(0.2)


@pytest.fixture
def live() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(live=True, speed=60)
    try:
        yield handle
    finally:
        handle.stop()


def kubectl(handle: SandboxHandle, *args: str, timeout: float = 120) -> str:
    out = subprocess.run(
        [KUBECTL, "--kubeconfig", str(handle.kubeconfig_path), *args], capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
    return out.stdout


def restarts(handle: SandboxHandle, ns: str, app: str) -> int:
    pod = next(p for p in handle.cluster.list_objects("pod", ns) if p["metadata"]["labels"].get("app") == app)
    return int(pod["status"]["containerStatuses"][0]["restartCount"])


def backoff_count(handle: SandboxHandle, ns: str, app: str) -> int:
    return sum(
        int(e.get("count") or 0)
        for e in handle.cluster.list_objects("event", ns)
        if e["reason"] == "BackOff" and e["involvedObject"]["name"].startswith(f"{app}-")
    )


def test_a_crash_looping_pod_keeps_restarting_while_time_moves(live: SandboxHandle) -> None:
    before, events_before = restarts(live, "dev", "payment-api"), backoff_count(live, "dev", "payment-api")
    eventually(lambda: restarts(live, "dev", "payment-api") >= before + 2)
    assert backoff_count(live, "dev", "payment-api") > events_before
    row = next(r for r in kubectl(live, "get", "pods", "-n", "dev").splitlines() if r.startswith("payment-api-"))
    assert "CrashLoopBackOff" in row


def test_frozen_time_keeps_the_world_still_until_it_is_switched_on(sandbox: SandboxHandle) -> None:
    before = restarts(sandbox, "dev", "payment-api")
    sandbox.cluster.delete_object("pod", "dev", "redis-0")
    replacement = sandbox.cluster.get("pod", "dev", "redis-0")
    assert replacement is not None and replacement["status"]["phase"] == "Running"  # frozen: instant, as before
    time.sleep(1.5)  # several ticks of the live clock would have passed
    assert restarts(sandbox, "dev", "payment-api") == before
    sandbox.cluster.set_live(True, speed=60)
    eventually(lambda: restarts(sandbox, "dev", "payment-api") > before)
    sandbox.cluster.set_live(False)
    frozen_at = restarts(sandbox, "dev", "payment-api")
    time.sleep(1.5)
    assert restarts(sandbox, "dev", "payment-api") == frozen_at


def test_a_rollout_goes_through_the_states_rollout_status_reports(live: SandboxHandle) -> None:
    kubectl(live, "rollout", "restart", "deployment/web", "-n", "production")
    pods = json.loads(kubectl(live, "get", "pods", "-n", "production", "-l", "app=web", "-o", "json"))["items"]
    waiting = [p for p in pods if p["status"]["containerStatuses"][0]["state"].get("waiting")]
    # RollingUpdate's defaults for 3 replicas: maxSurge 1, maxUnavailable 0 — one new pod at a time, as on a
    # real cluster, while the old ones keep serving
    assert len(pods) == 4 and len(waiting) == 1
    assert {p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] for p in waiting} == {"ContainerCreating"}
    status = subprocess.run(
        [KUBECTL, "--kubeconfig", str(live.kubeconfig_path), "rollout", "status", "deployment/web", "-n", "production"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0 and 'deployment "web" successfully rolled out' in status.stdout
    after = json.loads(kubectl(live, "get", "pods", "-n", "production", "-l", "app=web", "-o", "json"))["items"]
    assert len(after) == 3 and all(p["status"]["phase"] == "Running" for p in after)


def test_a_deleted_pod_is_replaced_and_runs_after_a_moment(live: SandboxHandle) -> None:
    (old,) = [p["metadata"]["name"] for p in live.cluster.list_objects("pod", "dev") if "cart-service-v2" in str(p)]
    kubectl(live, "delete", "pod", old, "-n", "dev")

    def replacement() -> dict[str, Any] | None:
        pods = [
            p for p in live.cluster.list_objects("pod", "dev") if p["metadata"]["name"].startswith("cart-service-v2")
        ]
        return next((p for p in pods if p["metadata"]["name"] != old), None)

    new = eventually(replacement)
    running = eventually(
        lambda: (p := live.cluster.get("pod", "dev", new["metadata"]["name"])) and p["status"]["phase"] == "Running"
    )
    assert running


def test_logs_follow_streams_new_lines_while_the_container_runs(live: SandboxHandle) -> None:
    (pod,) = [p["metadata"]["name"] for p in live.cluster.list_objects("pod", "dev") if "cart-service-v1" in str(p)]
    proc = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(live.kubeconfig_path), "logs", "-f", "-n", "dev", pod, "--tail=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]  # one existing line, then three streamed ones
        assert all("cart-service v1.4.2" in line for line in lines)
        assert "/api/cart/5000 " in lines[1] and "/api/cart/5001/" in lines[2]  # new lines as they come
        assert proc.poll() is None  # still following
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_the_staging_cluster_has_its_own_workloads_and_problems() -> None:
    with start_sandbox_thread("staging") as staging, start_sandbox_thread("demo") as demo:
        names = {p["metadata"]["name"] for p in staging.cluster.list_objects("pod")}
        demo_names = {p["metadata"]["name"] for p in demo.cluster.list_objects("pod")}
        assert not names & demo_names
        table = kubectl(staging, "get", "pods", "-n", "staging")
        status = {r.split()[0].rsplit("-", 2)[0]: r.split()[2] for r in table.splitlines()[1:]}
        assert status == {
            "api-gateway": "Running",
            "cache": "CrashLoopBackOff",
            "notifications": "ImagePullBackOff",
            "search": "CrashLoopBackOff",
        }
        assert {n["metadata"]["name"] for n in staging.cluster.list_objects("namespace")} == {
            "data",
            "default",
            "kube-system",
            "staging",
        }
