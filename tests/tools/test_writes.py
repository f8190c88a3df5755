"""The mutating tools against the sandbox: dry run changes nothing, the real run changes exactly what it says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tools.catalogue import CATALOGUE, MUTATING_TOOLS, run_tool
from tools.k8s.client import KubeClients
from tools.k8s.models import ChangePreview, PodList
from tools.spec import ErrorCode, Risk, ToolFailure


@pytest.fixture
async def k8s(sandbox: Any) -> AsyncIterator[KubeClients]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, timeout_seconds=5.0)
    yield kube
    await kube.close()


async def call(kube: KubeClients, tool: str, /, **args: Any) -> Any:
    return await run_tool(kube, tool, args)


def replicas(sandbox: Any, kind: str, ns: str, name: str) -> int:
    obj = sandbox.cluster.get(kind, ns, name)
    assert obj is not None
    return int(obj["spec"]["replicas"])


def writes(sandbox: Any) -> list[tuple[str, str]]:
    return [(m, p) for m, p in sandbox.cluster.requests if m not in ("GET", "HEAD")]


def test_mutating_tools_declare_risk_verb_and_resource() -> None:
    expected = {
        "scale_deployment": (Risk.MEDIUM, "scale", "deployments", False),
        "scale_statefulset": (Risk.MEDIUM, "scale", "statefulsets", False),
        "restart_deployment": (Risk.MEDIUM, "restart", "deployments", False),
        "rollback_deployment": (Risk.MEDIUM, "rollback", "deployments", False),
        "delete_pod": (Risk.MEDIUM, "delete", "pods", True),
        "cordon_node": (Risk.LOW, "cordon", "nodes", False),
        "uncordon_node": (Risk.LOW, "uncordon", "nodes", False),
        "set_container_resources": (Risk.MEDIUM, "update", "deployments", False),
    }
    assert set(MUTATING_TOOLS) == set(expected)
    for name, (risk, verb, resource, destructive) in expected.items():
        spec = CATALOGUE[name]
        assert (spec.mutates, spec.risk, spec.verb, spec.resource, spec.destructive) == (
            True,
            risk,
            verb,
            resource,
            destructive,
        )
        assert "dry_run" in spec.input_schema()["properties"]
    assert all(not s.mutates and s.risk == Risk.READ for n, s in CATALOGUE.items() if n not in expected)
    assert all(s.description and s.title_en and s.title_zh for s in CATALOGUE.values())


async def test_a_dry_run_scale_previews_the_change_and_changes_nothing(k8s: KubeClients, sandbox: Any) -> None:
    before_pods = len(sandbox.cluster.list_objects("Pod", "dev"))
    sandbox.cluster.reset_requests()
    p: ChangePreview = await call(
        k8s, "scale_deployment", namespace="dev", deployment="cart-service-v1", replicas=4, dry_run=True
    )
    assert p.dry_run and (p.before, p.after) == ({"replicas": "1"}, {"replicas": "4"})
    assert "[dry run]" in p.summary and "1 -> 4" in p.summary
    assert replicas(sandbox, "Deployment", "dev", "cart-service-v1") == 1
    assert len(sandbox.cluster.list_objects("Pod", "dev")) == before_pods
    assert [m for m, _ in writes(sandbox)] == ["PATCH"]


async def test_scaling_a_deployment_changes_its_replicas_and_pods(k8s: KubeClients, sandbox: Any) -> None:
    p: ChangePreview = await call(k8s, "scale_deployment", namespace="dev", deployment="cart-service-v1", replicas=3)
    assert (p.dry_run, p.before, p.after) == (False, {"replicas": "1"}, {"replicas": "3"})
    assert replicas(sandbox, "Deployment", "dev", "cart-service-v1") == 3
    pods: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="cart-service-v1")
    assert len(pods.items) == 3


async def test_scaling_a_statefulset_works_the_same_way(k8s: KubeClients, sandbox: Any) -> None:
    dry: ChangePreview = await call(
        k8s, "scale_statefulset", namespace="dev", statefulset="redis", replicas=2, dry_run=True
    )
    assert (dry.kind, dry.before, dry.after) == ("StatefulSet", {"replicas": "1"}, {"replicas": "2"})
    assert replicas(sandbox, "StatefulSet", "dev", "redis") == 1
    await call(k8s, "scale_statefulset", namespace="dev", statefulset="redis", replicas=2)
    assert replicas(sandbox, "StatefulSet", "dev", "redis") == 2


async def test_a_restart_stamps_the_template_like_kubectl_and_rolls_a_new_revision(
    k8s: KubeClients, sandbox: Any
) -> None:
    dep = sandbox.cluster.get("Deployment", "dev", "cart-service-v1")
    rev = dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    dry: ChangePreview = await call(
        k8s, "restart_deployment", namespace="dev", deployment="cart-service-v1", dry_run=True
    )
    assert dry.dry_run and dry.after["restartedAt"] != dry.before["restartedAt"]
    assert sandbox.cluster.get("Deployment", "dev", "cart-service-v1") == dep
    p: ChangePreview = await call(k8s, "restart_deployment", namespace="dev", deployment="cart-service-v1")
    after = sandbox.cluster.get("Deployment", "dev", "cart-service-v1")
    stamp = after["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
    assert stamp == p.after["restartedAt"]
    assert int(after["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) == int(rev) + 1


async def test_a_rollback_restores_the_previous_revisions_template_and_heals_the_workload(
    k8s: KubeClients, sandbox: Any
) -> None:
    bad_image = sandbox.cluster.get("Deployment", "dev", "frontend")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]
    dry: ChangePreview = await call(k8s, "rollback_deployment", namespace="dev", deployment="frontend", dry_run=True)
    assert (dry.before["revision"], dry.after["revision"]) == ("2", "1")
    assert dry.before["image"] == bad_image and dry.after["image"] != bad_image
    assert (
        sandbox.cluster.get("Deployment", "dev", "frontend")["spec"]["template"]["spec"]["containers"][0]["image"]
        == bad_image
    )
    p: ChangePreview = await call(k8s, "rollback_deployment", namespace="dev", deployment="frontend")
    now = sandbox.cluster.get("Deployment", "dev", "frontend")
    assert now["spec"]["template"]["spec"]["containers"][0]["image"] == p.after["image"] != bad_image
    health = await call(k8s, "workload_health", namespace="dev", name="frontend")
    assert not any(f.problem == "ImagePullBackOff" for f in health.findings)


async def test_rolling_back_without_history_is_a_clear_error_and_changes_nothing(
    k8s: KubeClients, sandbox: Any
) -> None:
    before = sandbox.cluster.get("Deployment", "dev", "cart-service-v1")
    with pytest.raises(ToolFailure) as err:
        await call(k8s, "rollback_deployment", namespace="dev", deployment="cart-service-v1")
    assert err.value.code == ErrorCode.INVALID and "no previous revision" in err.value.message
    with pytest.raises(ToolFailure) as err:
        await call(k8s, "rollback_deployment", namespace="dev", deployment="frontend", revision=9)
    assert err.value.code == ErrorCode.NOT_FOUND and "revisions: 1, 2" in err.value.message
    assert sandbox.cluster.get("Deployment", "dev", "cart-service-v1") == before


async def test_deleting_a_pod_dry_run_keeps_it_and_the_real_delete_gets_it_replaced(
    k8s: KubeClients, sandbox: Any
) -> None:
    pods: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="cart-service-v2")
    name = pods.items[0].name
    dry: ChangePreview = await call(k8s, "delete_pod", namespace="dev", pod=name, dry_run=True)
    assert dry.dry_run and "replacement" in dry.summary
    assert sandbox.cluster.get("Pod", "dev", name) is not None
    await call(k8s, "delete_pod", namespace="dev", pod=name)
    after: PodList = await call(k8s, "list_pods", namespace="dev", name_filter="cart-service-v2")
    assert name not in {p.name for p in after.items}
    assert len(after.items) == 1


async def test_cordon_and_uncordon_flip_the_node_flag(k8s: KubeClients, sandbox: Any) -> None:
    dry: ChangePreview = await call(k8s, "cordon_node", node="node-2", dry_run=True)
    assert (dry.before, dry.after) == ({"unschedulable": "false"}, {"unschedulable": "true"})
    assert not sandbox.cluster.get("Node", None, "node-2")["spec"].get("unschedulable")
    await call(k8s, "cordon_node", node="node-2")
    assert sandbox.cluster.get("Node", None, "node-2")["spec"]["unschedulable"] is True
    back: ChangePreview = await call(k8s, "uncordon_node", node="node-2")
    assert (back.before, back.after) == ({"unschedulable": "true"}, {"unschedulable": "false"})
    assert not sandbox.cluster.get("Node", None, "node-2")["spec"].get("unschedulable")


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        (
            "scale_deployment",
            {"namespace": "dev", "deployment": "ghost", "replicas": 2},
            "deployment 'ghost' not found in namespace 'dev'",
        ),
        (
            "scale_deployment",
            {"namespace": "staging", "deployment": "web", "replicas": 2},
            "namespace 'staging' not found",
        ),
        ("delete_pod", {"namespace": "dev", "pod": "ghost"}, "pod 'ghost' not found in namespace 'dev'"),
        ("cordon_node", {"node": "node-9"}, "node 'node-9' not found"),
    ],
)
async def test_a_missing_target_is_named_and_nothing_is_written(
    k8s: KubeClients, sandbox: Any, tool: str, args: dict[str, Any], message: str
) -> None:
    sandbox.cluster.reset_requests()
    with pytest.raises(ToolFailure) as err:
        await run_tool(k8s, tool, args)
    assert (err.value.code, err.value.message) == (ErrorCode.NOT_FOUND, message)
    assert writes(sandbox) == []


async def test_a_negative_replica_count_is_refused_before_any_call(k8s: KubeClients, sandbox: Any) -> None:
    sandbox.cluster.reset_requests()
    with pytest.raises(ToolFailure) as err:
        await call(k8s, "scale_deployment", namespace="dev", deployment="cart-service-v1", replicas=-1)
    assert err.value.code == ErrorCode.INVALID and "replicas" in err.value.message
    assert sandbox.cluster.requests == []


async def test_a_write_to_a_cluster_that_is_down_is_sent_once_and_reported(k8s: KubeClients, sandbox: Any) -> None:
    ctx = await k8s.context()
    sandbox.cluster.set_down(True)
    sandbox.cluster.reset_requests()
    try:
        with pytest.raises(ToolFailure) as err:
            await ctx.write_json(
                ctx.apps.patch_namespaced_deployment_scale_without_preload_content,
                "cart-service-v1",
                "dev",
                {"spec": {"replicas": 5}},
                _content_type="application/merge-patch+json",
            )
    finally:
        sandbox.cluster.set_down(False)
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert [m for m, _ in sandbox.cluster.requests] == ["PATCH"]
    assert replicas(sandbox, "Deployment", "dev", "cart-service-v1") == 1


@pytest.mark.parametrize(
    "args",
    [
        {"namespace": "dev", "deployment": "cart-service-v1", "replicas": True},  # lax parsing would mean 1
        {"namespace": "dev", "deployment": "cart-service-v1", "replicas": "3"},
        {"namespace": "dev", "deployment": "cart-service-v1", "replicas": 3.0},
        {"namespace": "dev", "deployment": "cart-service-v1", "replicas": 3, "dry_run": "no"},  # truthy string
    ],
    ids=["bool-replicas", "string-replicas", "float-replicas", "string-dry-run"],
)
async def test_a_value_of_the_wrong_json_type_is_refused_not_coerced_and_nothing_is_written(
    k8s: KubeClients, sandbox: Any, args: dict[str, Any]
) -> None:
    sandbox.cluster.reset_requests()
    with pytest.raises(ToolFailure) as err:
        await run_tool(k8s, "scale_deployment", args)
    assert err.value.code == ErrorCode.INVALID
    assert "replicas" in err.value.message or "dry_run" in err.value.message
    assert sandbox.cluster.requests == []
    assert replicas(sandbox, "Deployment", "dev", "cart-service-v1") == 1
