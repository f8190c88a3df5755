"""Outputs stay bounded on a bigger cluster, and say so when they are cut."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tools.catalogue import run_tool
from tools.k8s.client import KubeClients
from tools.k8s.models import ClusterOverview, DeploymentList, PodList, WorkloadHealth
from tools.sandbox import SandboxHandle, start_sandbox_thread


@pytest.fixture(scope="module")
def big() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(seed="scale", port=0, namespaces=2, pods=1200)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def k8s(big: SandboxHandle) -> AsyncIterator[KubeClients]:
    kube = KubeClients(kubeconfig=big.kubeconfig_path, timeout_seconds=30.0)
    yield kube
    await kube.close()


async def test_all_pods_are_counted_across_pages_but_only_the_limit_is_returned(
    k8s: KubeClients, big: SandboxHandle
) -> None:
    big.cluster.reset_requests()
    pods = await run_tool(k8s, "list_pods", {})
    assert isinstance(pods, PodList)
    assert (pods.total, len(pods.items), pods.truncated) == (2400, 200, True)
    assert len([r for r in big.cluster.requests if r[1] == "/api/v1/pods"]) == 3  # 1000 per page
    names = [(p.namespace, p.name) for p in pods.items]
    assert names == sorted(names)
    most = await run_tool(k8s, "list_pods", {"namespace": "scale-001", "limit": 2000})
    assert isinstance(most, PodList)
    assert (most.total, len(most.items), most.truncated) == (1200, 1200, False)


async def test_a_wide_name_hint_is_cut_with_a_truncation_flag(k8s: KubeClients) -> None:
    h = await run_tool(k8s, "workload_health", {"namespace": "scale-000", "name": "app"})
    assert isinstance(h, WorkloadHealth)
    assert len(h.deployments) == 20 and len(h.pods) == 50 and h.truncated
    assert h.healthy


async def test_the_overview_of_a_healthy_big_cluster_is_not_truncated(k8s: KubeClients) -> None:
    o = await run_tool(k8s, "cluster_overview", {})
    assert isinstance(o, ClusterOverview)
    assert (o.pods_total, o.pods_by_phase, o.deployments_total) == (2400, {"Running": 2400}, 240)
    assert o.unhealthy_pods == [] and not o.truncated
    deps = await run_tool(k8s, "list_deployments", {})
    assert isinstance(deps, DeploymentList) and deps.total == 240 and not deps.truncated
