"""The deploy RBAC (deploy/kubernetes/base/rbac.yaml) is exactly enough: every tool the bot has runs as the deploy
ServiceAccount against a sandbox that enforces RBAC; removing any one rule breaks a named call; nothing granted
goes unused."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sandbox.conftest import KUBECTL
from tools.catalogue import run_tool
from tools.k8s.client import KubeClients
from tools.sandbox import SandboxHandle, start_sandbox_thread
from tools.spec import ErrorCode, ToolFailure

RBAC_FILE = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "base" / "rbac.yaml"
SA_USER = "system:serviceaccount:kubeduty:kubeduty"
SA_TOKEN = "kubeduty-sa-token"  # tools/sandbox/users.yaml


def _role() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(RBAC_FILE.read_text()) if d]
    return next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "kubeduty")


RULES: list[dict[str, Any]] = _role()["rules"]


def flow(sandbox: SandboxHandle) -> list[tuple[str, str, dict[str, Any]]]:
    """(call id, tool, args): every read, and each change both as a dry run and for real, as the bot makes them."""

    def pod(ns: str, app: str) -> str:
        return next(
            p["metadata"]["name"]
            for p in sandbox.cluster.list_objects("pod", ns)
            if p["metadata"].get("labels", {}).get("app") == app
        )

    payment = pod("dev", "payment-api")
    if sandbox.cluster.get("namespace", None, "quiet") is None:  # empty: the bot then checks that it exists
        sandbox.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "quiet"}})
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("list_clusters", "list_clusters", {}),
        ("cluster_overview", "cluster_overview", {}),
        ("list_namespaces", "list_namespaces", {}),
        ("list_pods", "list_pods", {"namespace": "dev"}),
        ("list_pods_everywhere", "list_pods", {}),
        ("pod_logs_previous", "pod_logs", {"namespace": "dev", "pod": payment, "previous": True}),
        ("describe_pod", "describe_pod", {"namespace": "dev", "pod": payment}),
        ("list_events", "list_events", {"namespace": "dev"}),
        ("list_deployments", "list_deployments", {"namespace": "dev"}),
        ("list_services", "list_services", {"namespace": "dev"}),
        ("list_services_none_checks_the_namespace", "list_services", {"namespace": "quiet"}),
        ("list_nodes", "list_nodes", {}),
        ("workload_health", "workload_health", {"namespace": "dev", "name": "payment-api"}),
    ]
    changes: list[tuple[str, str, dict[str, Any]]] = [
        ("scale_deployment", "scale_deployment", {"namespace": "dev", "deployment": "cart-service-v1", "replicas": 2}),
        ("scale_statefulset", "scale_statefulset", {"namespace": "dev", "statefulset": "redis", "replicas": 2}),
        ("restart_deployment", "restart_deployment", {"namespace": "production", "deployment": "web"}),
        ("rollback_deployment", "rollback_deployment", {"namespace": "dev", "deployment": "frontend"}),
        ("delete_pod", "delete_pod", {"namespace": "dev", "pod": pod("dev", "cart-service")}),
        ("cordon_node", "cordon_node", {"node": "node-1"}),
        ("uncordon_node", "uncordon_node", {"node": "node-1"}),
        (
            "set_container_resources",
            "set_container_resources",
            {"namespace": "production", "deployment": "orders", "container": "orders", "memory_limit": "512Mi"},
        ),
    ]
    for call_id, tool, args in changes:
        calls.append((f"{call_id}_dry_run", tool, {**args, "dry_run": True}))
        calls.append((call_id, tool, args))
    return calls


@pytest.fixture
def deployed() -> Iterator[SandboxHandle]:
    """A demo sandbox with the deploy manifests' RBAC objects loaded (as `kubectl apply` would create them)."""
    handle = start_sandbox_thread(manifests=RBAC_FILE)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def as_bot(deployed: SandboxHandle, tmp_path: Path) -> AsyncIterator[KubeClients]:
    kube = KubeClients(kubeconfig=deployed.write_kubeconfig(tmp_path / "kc", token=SA_TOKEN))
    try:
        yield kube
    finally:
        await kube.close()


async def _run_flow(sandbox: SandboxHandle, kube: KubeClients) -> dict[str, str]:
    """call id -> "ok" or the failure's error code."""
    results: dict[str, str] = {}
    for call_id, tool, args in flow(sandbox):
        try:
            await run_tool(kube, tool, args)
            results[call_id] = "ok"
        except ToolFailure as exc:
            results[call_id] = exc.code.value
    return results


def test_the_deploy_manifests_grant_the_service_account_the_kubeduty_role(deployed: SandboxHandle) -> None:
    binding = deployed.cluster.get("clusterrolebinding", None, "kubeduty")
    assert binding is not None and binding["subjects"][0]["name"] == "kubeduty"
    rows = subprocess.run(
        [KUBECTL, "--kubeconfig", str(deployed.kubeconfig_path), "auth", "can-i", "--list", "--as", SA_USER],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.splitlines()
    table = {r.split()[0]: r for r in rows[1:] if r.split() and not r.startswith(" ")}

    def verbs(resource: str) -> set[str]:
        return set(table[resource].split("[")[-1].rstrip("]").split())

    assert verbs("pods") == {"get", "list", "delete"} and verbs("pods/log") == {"get"}
    assert verbs("deployments.apps/scale") == {"patch"} and verbs("nodes") == {"get", "list", "patch"}
    assert "secrets" not in table and "configmaps" not in table


async def test_the_bots_whole_flow_runs_as_the_deploy_service_account(
    deployed: SandboxHandle, as_bot: KubeClients
) -> None:
    results = await _run_flow(deployed, as_bot)
    assert {k: v for k, v in results.items() if v != "ok"} == {}
    assert deployed.cluster.get("deployment", "dev", "cart-service-v1")["spec"]["replicas"] == 2  # type: ignore[index]


@pytest.mark.parametrize(
    "index", range(len(RULES)), ids=[f"rule{i}-{'+'.join(r['resources'])}" for i, r in enumerate(RULES)]
)
async def test_removing_any_one_rule_makes_a_named_call_forbidden(
    deployed: SandboxHandle, as_bot: KubeClients, index: int
) -> None:
    role = _role()
    trimmed = copy.deepcopy(role)
    del trimmed["rules"][index]
    deployed.cluster.apply(trimmed)
    results = await _run_flow(deployed, as_bot)
    forbidden = sorted(k for k, v in results.items() if v == ErrorCode.FORBIDDEN.value)
    assert forbidden, f"rule {RULES[index]} is not needed by any call: {results}"


async def test_nothing_is_granted_beyond_what_the_bot_calls(deployed: SandboxHandle, as_bot: KubeClients) -> None:
    deployed.server.access_log.clear()
    await _run_flow(deployed, as_bot)
    used = {
        (a.group, f"{a.resource}/{a.subresource}" if a.subresource else a.resource, a.verb)
        for user, a, allowed in deployed.server.access_log
        if user == SA_USER and allowed and a.resource_request
    }
    granted = {(g, r, v) for rule in RULES for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    assert granted - used == set(), "granted but never used by the bot"
