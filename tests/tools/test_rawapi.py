"""tools/k8s/rawapi.py: the tools' API calls without the generated classes send exactly what the generated methods
send (same method, URL, query, headers, body), against the sandbox; anything else falls back to the generated
class; and every call the tools make is in the table (so no message pays for loading a generated class)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tools.k8s.client import KubeClients, KubeContext
from tools.k8s.rawapi import APPS, CORE, VERSION, RawGroup

REPO_ROOT = Path(__file__).resolve().parents[2]
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


@pytest.fixture
async def ctx(sandbox: Any) -> AsyncIterator[KubeContext]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=30)
    yield await kube.context()
    await kube.close()


def calls(sandbox: Any) -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
    """Arguments for every table entry, as the tools pass them (writes as server-side dry runs)."""
    pod = sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev"))[0]
    node = sorted(n["metadata"]["name"] for n in sandbox.cluster.list_objects("nodes", None))[0]
    dep = sorted(d["metadata"]["name"] for d in sandbox.cluster.list_objects("deployments", "dev"))[0]
    dry = {"dry_run": "All"}
    return {
        "list_namespace": ((), {"limit": 5}),
        "read_namespace": (("dev",), {}),
        "list_node": ((), {"limit": 500}),
        "read_node": ((node,), {}),
        "patch_node": ((node, {"spec": {"unschedulable": False}}), {"_content_type": STRATEGIC, **dry}),
        "list_pod_for_all_namespaces": ((), {"limit": 3, "label_selector": "app"}),
        "list_namespaced_pod": (("dev",), {"limit": 500, "field_selector": "status.phase!=Succeeded"}),
        "read_namespaced_pod": ((pod, "dev"), {}),
        "read_namespaced_pod_log": ((pod, "dev"), {"tail_lines": 5, "timestamps": True, "since_seconds": 3600}),
        "delete_namespaced_pod": ((pod, "dev"), dry),
        "list_namespaced_event": (("dev",), {"field_selector": f"involvedObject.name={pod}"}),
        "list_event_for_all_namespaces": ((), {"limit": 2}),
        "list_namespaced_service": (("dev",), {}),
        "list_service_for_all_namespaces": ((), {"limit": 500}),
        "list_deployment_for_all_namespaces": ((), {"limit": 500}),
        "list_namespaced_deployment": (("dev",), {"limit": 500}),
        "read_namespaced_deployment": ((dep, "dev"), {}),
        "patch_namespaced_deployment": (
            (dep, "dev", {"spec": {"template": {"metadata": {"annotations": {"x": "y"}}}}}),
            {"_content_type": STRATEGIC, **dry},
        ),
        "patch_namespaced_deployment_scale": ((dep, "dev", {"spec": {"replicas": 2}}), {"_content_type": MERGE, **dry}),
        "list_namespaced_replica_set": (("dev",), {"label_selector": "app=cart-service"}),
        "read_namespaced_stateful_set": (("redis", "dev"), {}),
        "patch_namespaced_stateful_set_scale": (
            ("redis", "dev", {"spec": {"replicas": 1}}),
            {"_content_type": MERGE, **dry},
        ),
        "get_code": ((), {}),
    }


def group_of(ctx: KubeContext, name: str) -> RawGroup:
    return ctx.core if name in CORE else ctx.apps if name in APPS else ctx.version


async def sent(ctx: KubeContext, method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """What one call sent (method, path, query as a set, headers, body) and the status it got, over the real
    client: `call_api` is observed, not replaced."""
    api = ctx.api_client
    seen: list[tuple[Any, ...]] = []
    real = api.call_api

    async def observe(*params: Any, **kw: Any) -> Any:
        seen.append(params)
        return await real(*params, **kw)

    api.call_api = observe
    try:
        resp = await method(*args, **kwargs)
        status = int(resp.status)
        resp.release()
    finally:
        del api.call_api
    (http, url, headers, body, _post) = seen[0]
    parts = urlsplit(url)
    return {
        "method": http,
        "path": parts.path,
        "query": sorted(parse_qsl(parts.query)),
        "headers": headers,
        "body": body,
        "status": status,
    }


async def test_every_table_method_sends_what_the_generated_method_sends(sandbox: Any, ctx: KubeContext) -> None:
    table = calls(sandbox)
    assert sorted(table) == sorted([*CORE, *APPS, *VERSION])
    for name, (args, kwargs) in table.items():
        group = group_of(ctx, name)
        ours = await sent(ctx, getattr(type(group), f"{name}_without_preload_content").__get__(group), args, kwargs)
        theirs = await sent(ctx, getattr(group.generated(), f"{name}_without_preload_content"), args, kwargs)
        assert ours == theirs, name
        assert ours["status"] < 400, (name, ours)


async def test_a_method_outside_the_table_falls_back_to_the_generated_class(ctx: KubeContext) -> None:
    doc = await ctx.read_json(ctx.core.list_namespaced_config_map_without_preload_content, "dev")
    assert "items" in doc
    odd = await ctx.read_json(ctx.core.list_namespaced_pod_without_preload_content, "dev", watch=False)
    assert "items" in odd  # an argument the table does not know: the generated method sends it


def test_every_api_call_the_tools_make_is_in_the_table() -> None:
    used = set()
    for path in (REPO_ROOT / "tools").rglob("*.py"):
        used |= set(re.findall(r"ctx\.(?:core|apps|version)\.(\w+)_without_preload_content", path.read_text()))
    missing = sorted(used - {*CORE, *APPS, *VERSION})
    assert missing == [], f"add these to tools/k8s/rawapi.py (else each loads a generated API class): {missing}"
