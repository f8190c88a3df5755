"""No tool output ever carries the credentials seeded in the sandbox (env, annotations, logs, Secret data)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tools.catalogue import READ_TOOLS, run_tool
from tools.k8s.client import KubeClients

SEEDED = [
    "S3cr3t-Passw0rd",
    base64.b64encode(b"S3cr3t-Passw0rd").decode(),
    "hunter2",
    "ghp_R8x2Kq7LmN4pZ1vW9cT3yB6hJ0sD5fG8aE2u",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaGVja291dC1zdmMi",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAIOSFODNN7EXAMPLE",
]


@pytest.fixture
async def k8s(sandbox: Any) -> AsyncIterator[KubeClients]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, timeout_seconds=5.0)
    yield kube
    await kube.close()


async def every_read_output(kube: KubeClients) -> list[tuple[str, str]]:
    """(call, JSON output) of every read tool over every namespace, deployment, pod and container."""
    outputs: list[tuple[str, str]] = []
    called: set[str] = set()

    async def run(tool: str, **args: Any) -> Any:
        result = await run_tool(kube, tool, args)
        outputs.append((f"{tool} {args}", json.dumps(result.model_dump(mode="json"), ensure_ascii=False)))
        called.add(tool)
        return result

    await run("list_clusters")
    await run("cluster_overview")
    await run("list_nodes")
    namespaces = await run("list_namespaces")
    await run("list_events", limit=500)
    for ns in [n.name for n in namespaces.items]:
        await run("list_services", namespace=ns)
        await run("list_events", namespace=ns, limit=500)
        deps = await run("list_deployments", namespace=ns)
        for d in deps.items:
            await run("workload_health", namespace=ns, name=d.name)
        pods = await run("list_pods", namespace=ns)
        for p in pods.items:
            await run("describe_pod", namespace=ns, pod=p.name)
            for c in p.containers:
                if c.state == "waiting" and not c.restarts:
                    continue  # never started: no logs (test_reads covers that error)
                await run("pod_logs", namespace=ns, pod=p.name, container=c.name, tail_lines=5000)
                if c.restarts:
                    await run("pod_logs", namespace=ns, pod=p.name, container=c.name, previous=True, tail_lines=5000)
    assert called == set(READ_TOOLS)
    return outputs


async def test_no_read_tool_output_contains_a_seeded_secret(k8s: KubeClients) -> None:
    outputs = await every_read_output(k8s)
    assert len(outputs) > 50
    leaks = [(call, secret) for call, text in outputs for secret in SEEDED if secret in text]
    assert leaks == []
    joined = "\n".join(text for _, text in outputs)
    assert "password=****" in joined and "Authorization: Bearer ****" in joined  # masked, with context kept


async def test_the_seed_really_holds_those_secrets_before_redaction(k8s: KubeClients, sandbox: Any) -> None:
    """Control: the raw API answers carry the values, so the test above proves masking, not absence."""
    ctx = await k8s.context()
    checkout = next(
        p for p in sandbox.cluster.list_objects("Pod", "production") if p["metadata"]["name"].startswith("checkout")
    )
    raw_log = await ctx.read_text(
        ctx.core.read_namespaced_pod_log_without_preload_content, checkout["metadata"]["name"], "production"
    )
    assert "hunter2" in raw_log and "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" in raw_log
    orders = next(
        p for p in sandbox.cluster.list_objects("Pod", "production") if p["metadata"]["name"].startswith("orders")
    )
    assert "S3cr3t-Passw0rd" in json.dumps(orders)
    web = sandbox.cluster.get("Deployment", "production", "web")
    assert "ghp_R8x2Kq7LmN4pZ1vW9cT3yB6hJ0sD5fG8aE2u" in json.dumps(web)


async def test_no_tool_reads_secrets(k8s: KubeClients) -> None:
    from tools.catalogue import CATALOGUE

    assert not any("secret" in s.resource for s in CATALOGUE.values())
