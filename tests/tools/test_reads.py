"""The read tools against the sandbox cluster (demo seed) over real HTTP, through the real kubernetes client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tools.catalogue import run_tool
from tools.k8s.client import KubeClients
from tools.k8s.models import (
    ClusterList,
    ClusterOverview,
    DeploymentList,
    EventList,
    LogResult,
    NamespaceList,
    NodeList,
    PodDetail,
    PodList,
    ServiceList,
    WorkloadHealth,
)
from tools.spec import ErrorCode, ToolFailure


@pytest.fixture
async def k8s(sandbox: Any) -> AsyncIterator[KubeClients]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, timeout_seconds=5.0)
    yield kube
    await kube.close()


async def call(kube: KubeClients, tool: str, /, **args: Any) -> Any:
    return await run_tool(kube, tool, args)


def by_name(pods: PodList) -> dict[str, str]:
    """deployment/statefulset name -> status of its (first) pod."""
    out: dict[str, str] = {}
    for p in pods.items:
        key = (p.workload or p.name).split("/")[-1]
        out.setdefault(key, p.status)
    return out


async def test_the_sandbox_context_is_listed_as_the_current_cluster(k8s: KubeClients, sandbox: Any) -> None:
    result: ClusterList = await call(k8s, "list_clusters")
    assert [(c.name, c.server, c.current) for c in result.items] == [("sandbox", sandbox.url, True)]


async def test_the_overview_of_the_demo_seed_counts_what_is_broken(k8s: KubeClients) -> None:
    o: ClusterOverview = await call(k8s, "cluster_overview")
    assert (o.cluster, o.nodes_total, o.nodes_ready) == ("sandbox", 3, 3)
    assert o.version.startswith("v1.32")
    assert o.namespaces == ["default", "dev", "kube-system", "production"]
    assert (o.pods_total, o.pods_by_phase, o.deployments_total) == (19, {"Pending": 2, "Running": 17}, 10)
    got = sorted((u.namespace, u.name.split("-")[0], u.reason) for u in o.unhealthy_pods)
    assert got == [
        ("dev", "frontend", "ImagePullBackOff"),
        ("dev", "payment", "CrashLoopBackOff"),
        ("production", "orders", "OOMKilled"),  # kubectl says CrashLoopBackOff; the last termination says why
        ("production", "report", "Unschedulable"),  # kubectl says Pending; the PodScheduled condition says why
    ]
    assert all(u.restarts > 0 for u in o.unhealthy_pods if u.reason in ("CrashLoopBackOff", "OOMKilled"))
    assert not o.truncated
    lagging = {(d.namespace, d.name) for d in o.deployments_unavailable}
    assert lagging == {
        ("dev", "payment-api"),
        ("dev", "frontend"),
        ("production", "orders"),
        ("production", "report-worker"),
    }
    assert all(d.ready < d.desired for d in o.deployments_unavailable)


async def test_namespaces_are_listed_with_their_phase(k8s: KubeClients) -> None:
    result: NamespaceList = await call(k8s, "list_namespaces")
    assert [n.name for n in result.items] == ["default", "dev", "kube-system", "production"]
    assert {n.phase for n in result.items} == {"Active"}


async def test_pods_show_kubectl_status_ready_counts_and_their_deployment(k8s: KubeClients) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="dev")
    status = by_name(pods)
    assert status["payment-api"] == "CrashLoopBackOff"
    assert status["frontend"] in ("ImagePullBackOff", "ErrImagePull")
    assert status["cart-service-v1"] == "Running"
    assert pods.total == len(pods.items) and not pods.truncated
    cart = next(p for p in pods.items if p.workload == "Deployment/cart-service-v2")
    assert cart.ready == "1/1" and cart.healthy and cart.owner and cart.owner.startswith("ReplicaSet/cart-service-v2-")
    crash = next(p for p in pods.items if p.workload == "Deployment/payment-api")
    assert not crash.healthy and crash.restarts > 0


async def test_only_unhealthy_name_filter_label_selector_and_limit_narrow_the_list(k8s: KubeClients) -> None:
    bad: PodList = await call(k8s, "list_pods", only_unhealthy=True)
    assert bad.items and all(not p.healthy for p in bad.items)
    assert {p.namespace for p in bad.items} == {"dev", "production"}
    cart: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="cart-service")
    assert {p.workload for p in cart.items} == {"Deployment/cart-service-v1", "Deployment/cart-service-v2"}
    everything: PodList = await call(k8s, "list_pods")
    assert everything.namespace is None and everything.total > 10
    one: PodList = await call(k8s, "list_pods", limit=2)
    assert (len(one.items), one.total, one.truncated) == (2, everything.total, True)
    web: PodList = await call(k8s, "list_pods", namespace="production", label_selector="app=web")
    assert len(web.items) == 3 and all(p.ready == "2/2" for p in web.items)


async def test_logs_default_to_the_first_container_and_list_the_others(k8s: KubeClients) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="production", label_selector="app=web")
    name = pods.items[0].name
    logs: LogResult = await call(k8s, "pod_logs", namespace="production", pod=name)
    assert logs.container == "web" and logs.containers == ["web", "nginx-sidecar"]
    side: LogResult = await call(k8s, "pod_logs", namespace="production", pod=name, container="nginx-sidecar")
    assert side.container == "nginx-sidecar" and side.lines and side.lines != logs.lines


async def test_the_canary_logs_are_its_own(k8s: KubeClients) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="cart-service-v2")
    logs: LogResult = await call(k8s, "pod_logs", namespace="dev", pod=pods.items[0].name)
    assert any("v2.0.0-canary" in line for line in logs.lines)


async def test_previous_logs_of_a_crashing_pod_show_the_crash(k8s: KubeClients) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="payment-api")
    logs: LogResult = await call(k8s, "pod_logs", namespace="dev", pod=pods.items[0].name, previous=True)
    assert logs.previous
    assert any("connection refused" in line for line in logs.lines)


async def test_a_tail_shorter_than_the_log_is_marked_truncated(k8s: KubeClients) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="cart-service-v1")
    pod = pods.items[0].name
    for _ in range(10):
        # A running container's log grows with the clock, as a real one does: compare reads the log did not
        # change between (the same lines before and after the short read).
        full: LogResult = await call(k8s, "pod_logs", namespace="dev", pod=pod, tail_lines=5000)
        short: LogResult = await call(k8s, "pod_logs", namespace="dev", pod=pod, tail_lines=2)
        again: LogResult = await call(k8s, "pod_logs", namespace="dev", pod=pod, tail_lines=5000)
        if again.lines == full.lines:
            break
    assert len(full.lines) > 2 and not full.truncated
    assert again.lines == full.lines, "the log kept changing between reads"
    assert short.truncated and short.lines == full.lines[-2:]


async def test_asking_for_a_container_the_pod_does_not_have_names_the_ones_it_has(k8s: KubeClients) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="production", label_selector="app=web")
    with pytest.raises(ToolFailure) as err:
        await call(k8s, "pod_logs", namespace="production", pod=pods.items[0].name, container="nope")
    assert err.value.code == ErrorCode.NOT_FOUND
    assert "web, nginx-sidecar" in err.value.message


async def test_describe_shows_secret_references_masks_plain_credentials_and_lists_events(k8s: KubeClients) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="production", name_filter="orders")
    d: PodDetail = await call(k8s, "describe_pod", namespace="production", pod=pods.items[0].name)
    env = {e.name: e for c in d.containers for e in c.env}
    url = env["DATABASE_URL"].value or ""
    assert "S3cr3t-Passw0rd" not in url and "****" in url and "db.production" in url
    refs = [e.source for e in env.values() if e.source]
    assert any(r.startswith("secretKeyRef db-credentials/") for r in refs)
    assert any("OOMKilled" in c.last_state or c.reason == "OOMKilled" for c in d.containers)
    assert d.events and all(e.object == f"Pod/{d.name}" for e in d.events)
    assert {c.type for c in d.conditions} >= {"Ready"}


async def test_annotations_with_tokens_are_masked(k8s: KubeClients, sandbox: Any) -> None:
    # The seed's token sits on the Deployment, not its pods: put one on the pod so the masking has work to do.
    token = "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8"
    pods: PodList = await call(k8s, "list_pods", namespace="production", label_selector="app=web")
    pod = sandbox.cluster.get("Pod", "production", pods.items[0].name)
    pod["metadata"]["annotations"] = {"example.com/api-token": token, "example.com/team": "web"}
    sandbox.cluster.apply(pod)
    d: PodDetail = await call(k8s, "describe_pod", namespace="production", pod=pods.items[0].name)
    assert set(d.annotations) == {"example.com/api-token", "example.com/team"}
    assert d.annotations["example.com/api-token"] == "****" and d.annotations["example.com/team"] == "web"
    assert token not in d.model_dump_json()


async def test_events_come_newest_first_and_filter_by_object_and_type(k8s: KubeClients) -> None:
    ev: EventList = await call(k8s, "list_events", namespace="dev")
    ages = [e.last_seen_seconds for e in ev.items if e.last_seen_seconds is not None]
    assert len(ages) == len(ev.items) > 1 and len(set(ages)) > 1  # every event dated, and not all at once
    assert ages == sorted(ages)
    warn: EventList = await call(k8s, "list_events", warnings_only=True)
    assert warn.items and {e.type for e in warn.items} == {"Warning"}
    pods: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="payment-api")
    mine: EventList = await call(k8s, "list_events", namespace="dev", object_name=pods.items[0].name, object_kind="Pod")
    assert mine.items and {e.object for e in mine.items} == {f"Pod/{pods.items[0].name}"}
    assert any(e.reason == "BackOff" for e in mine.items)
    few: EventList = await call(k8s, "list_events", limit=1)
    assert len(few.items) == 1 and few.truncated and few.total > 1


async def test_deployments_services_and_nodes_are_listed(k8s: KubeClients) -> None:
    deps: DeploymentList = await call(k8s, "list_deployments", namespace="dev")
    info = {d.name: d for d in deps.items}
    assert {"cart-service-v1", "cart-service-v2", "payment-api", "frontend"} <= set(info)
    assert info["cart-service-v1"].healthy and not info["frontend"].healthy
    assert info["frontend"].revision == 2 and "v2.3.1-typo" in info["frontend"].images[0]
    svcs: ServiceList = await call(k8s, "list_services", namespace="default")
    assert "kubernetes" in {s.name for s in svcs.items}
    nodes: NodeList = await call(k8s, "list_nodes")
    assert [n.name for n in nodes.items] == ["node-1", "node-2", "node-3"]
    assert all(n.ready and not n.unschedulable and n.version.startswith("v1.32") for n in nodes.items)


@pytest.mark.parametrize(
    ("namespace", "hint", "problem", "log_phrase"),
    [
        ("dev", "payment-api", "CrashLoopBackOff", "connection refused"),
        ("dev", "frontend", "ImagePullBackOff", None),
        ("production", "orders", "OOMKilled", None),
        ("production", "report-worker", "Unschedulable", None),
    ],
)
async def test_workload_health_diagnoses_each_seeded_failure(
    k8s: KubeClients, namespace: str, hint: str, problem: str, log_phrase: str | None
) -> None:
    h: WorkloadHealth = await call(k8s, "workload_health", namespace=namespace, name=hint)
    assert not h.healthy
    assert [d.name for d in h.deployments] == [hint]
    assert h.pods and all(p.workload == f"Deployment/{hint}" for p in h.pods)
    problems = {f.problem for f in h.findings}
    assert problem in problems, h.findings
    assert all(f.advice_en and f.advice_zh for f in h.findings)
    assert h.events
    if log_phrase:
        assert any("(previous)" in k for k in h.logs)
        assert any(log_phrase in line for lines in h.logs.values() for line in lines)
        assert all(len(lines) <= 30 for lines in h.logs.values())


async def test_a_name_hint_finds_every_matching_healthy_workload(k8s: KubeClients) -> None:
    h: WorkloadHealth = await call(k8s, "workload_health", namespace="dev", name="cart")
    assert sorted(d.name for d in h.deployments) == ["cart-service-v1", "cart-service-v2"]
    assert h.healthy and not h.findings and not h.logs


async def test_a_hint_matching_nothing_lists_what_exists(k8s: KubeClients) -> None:
    with pytest.raises(ToolFailure) as err:
        await call(k8s, "workload_health", namespace="dev", name="billing")
    assert err.value.code == ErrorCode.NOT_FOUND
    assert "payment-api" in err.value.message


# ---------------------------------------------------------------- errors
async def test_a_namespace_that_does_not_exist_is_named(k8s: KubeClients) -> None:
    for tool, extra in [
        ("list_pods", {}),
        ("list_deployments", {}),
        ("list_events", {}),
        ("pod_logs", {"pod": "x"}),
        ("describe_pod", {"pod": "x"}),
    ]:
        with pytest.raises(ToolFailure) as err:
            await call(k8s, tool, namespace="staging", **extra)
        assert err.value.code == ErrorCode.NOT_FOUND, tool
        assert err.value.message == "namespace 'staging' not found", tool


async def test_a_pod_that_does_not_exist_is_named_with_its_namespace(k8s: KubeClients) -> None:
    with pytest.raises(ToolFailure) as err:
        await call(k8s, "describe_pod", namespace="dev", pod="ghost")
    assert (err.value.code, err.value.message) == (ErrorCode.NOT_FOUND, "pod 'ghost' not found in namespace 'dev'")
    assert "ghost" in (err.value.upstream or "")


@pytest.mark.parametrize(
    ("tool", "args", "phrase"),
    [
        ("list_pods", {"namespace": "Dev_1"}, "namespace 'Dev_1' is not a valid name"),
        ("pod_logs", {"namespace": "dev"}, "pod is required"),
        ("pod_logs", {"namespace": "dev", "pod": "x", "tail_lines": 0}, "tail_lines 0 is out of range"),
        ("list_nodes", {"verbose": True}, "unknown argument 'verbose'"),
    ],
)
async def test_bad_arguments_get_a_readable_message_and_no_api_call(
    k8s: KubeClients, sandbox: Any, tool: str, args: dict[str, Any], phrase: str
) -> None:
    sandbox.cluster.reset_requests()
    with pytest.raises(ToolFailure) as err:
        await run_tool(k8s, tool, args)
    assert err.value.code == ErrorCode.INVALID
    assert phrase in err.value.message
    assert len(sandbox.cluster.requests) == 0


async def test_a_cluster_that_is_down_is_reported_unavailable(k8s: KubeClients, sandbox: Any) -> None:
    sandbox.cluster.set_down(True)
    try:
        with pytest.raises(ToolFailure) as err:
            await call(k8s, "list_pods", namespace="dev")
    finally:
        sandbox.cluster.set_down(False)
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert "cannot reach the cluster 'sandbox'" in err.value.message
    pods: PodList = await call(k8s, "list_pods", namespace="dev")  # and it recovers
    assert pods.items


async def test_logs_of_a_container_that_never_started_explain_why_there_are_none(k8s: KubeClients) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="frontend")
    with pytest.raises(ToolFailure) as err:
        await call(k8s, "pod_logs", namespace="dev", pod=pods.items[0].name)
    assert err.value.code == ErrorCode.INVALID
    assert (
        "has not started (ImagePullBackOff)" in err.value.message
        or "has not started (ErrImagePull)" in err.value.message
    )
    assert "waiting to start" in (err.value.upstream or "")


async def test_a_statefulset_is_found_by_its_pod_names(k8s: KubeClients) -> None:
    h: WorkloadHealth = await call(k8s, "workload_health", namespace="dev", name="redis")
    assert h.deployments == [] and [p.name for p in h.pods] == ["redis-0"]
    assert h.pods[0].workload == "StatefulSet/redis" and h.healthy


async def test_logs_of_a_named_container_take_one_request_the_log_itself(k8s: KubeClients, sandbox: Any) -> None:
    pod = next(
        p["metadata"]["name"]
        for p in sandbox.cluster.list_objects("pod", "dev")
        if p["metadata"]["name"].startswith("cart-service-v2-")
    )
    sandbox.cluster.reset_requests()
    result: LogResult = await call(k8s, "pod_logs", namespace="dev", pod=pod, container="cart-service", tail_lines=5)
    assert result.container == "cart-service" and any("v2.0.0-canary" in line for line in result.lines)
    assert [path for _method, path in sandbox.cluster.requests] == [f"/api/v1/namespaces/dev/pods/{pod}/log"]


async def test_a_wrong_named_container_still_gets_the_explained_error(k8s: KubeClients, sandbox: Any) -> None:
    pod = next(
        p["metadata"]["name"]
        for p in sandbox.cluster.list_objects("pod", "production")
        if "web-" in p["metadata"]["name"]
    )
    with pytest.raises(ToolFailure) as err:
        await call(k8s, "pod_logs", namespace="production", pod=pod, container="nope")
    assert err.value.code is ErrorCode.NOT_FOUND and "web" in err.value.message and "nginx-sidecar" in err.value.message
