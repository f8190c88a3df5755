"""The K8s access layer against a scripted API server over real HTTP: timeouts, retries of reads only,
error mapping, impersonation headers, kubeconfig contexts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from tests.tools.scripted import Scripted, kubeconfig, status
from tools.catalogue import run_tool
from tools.k8s.client import KubeClients
from tools.spec import ErrorCode, ToolFailure

NODE = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "node-1"}, "spec": {}, "status": {}}


async def test_reads_are_retried_on_5xx_and_then_reported_unavailable(server: Scripted, kube: KubeClients) -> None:
    with pytest.raises(ToolFailure) as err:
        await run_tool(kube, "list_nodes", {})
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert "cannot reach the cluster 'alpha'" in err.value.message
    assert "unable to handle the request" in (err.value.upstream or "")
    assert server.count("GET", "/api/v1/nodes") == 3


async def test_a_read_that_fails_once_succeeds_on_retry(server: Scripted, kube: KubeClients) -> None:
    calls = {"n": 0}

    def flaky() -> web.StreamResponse:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.json_response({"kind": "Status", "code": 429, "message": "slow down"}, status=429)
        return web.json_response({"kind": "NodeList", "items": [NODE], "metadata": {}})

    server.answers[("GET", "/api/v1/nodes")] = flaky
    result = await run_tool(kube, "list_nodes", {})
    assert [n.name for n in result.items] == ["node-1"]  # type: ignore[attr-defined]
    assert server.count("GET", "/api/v1/nodes") == 2


async def test_a_write_is_sent_exactly_once_even_when_it_fails(server: Scripted, kube: KubeClients) -> None:
    server.answers[("GET", "/api/v1/nodes/node-1")] = lambda: web.json_response(NODE)
    with pytest.raises(ToolFailure) as err:
        await run_tool(kube, "cordon_node", {"node": "node-1"})
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert server.count("PATCH", "/api/v1/nodes/node-1") == 1


async def test_a_slow_cluster_times_out_as_unavailable(server: Scripted, tmp_path: Path) -> None:
    server.delay = 2.0
    k = KubeClients(
        kubeconfig=kubeconfig(tmp_path / "kc", {"alpha": server.url}, "alpha"), timeout_seconds=0.2, read_attempts=1
    )
    try:
        with pytest.raises(ToolFailure) as err:
            await run_tool(k, "list_namespaces", {})
    finally:
        await k.close()
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert "timed out" in err.value.message


async def test_a_refused_connection_is_unavailable(kube: KubeClients) -> None:
    with pytest.raises(ToolFailure) as err:
        await run_tool(kube, "list_nodes", {"cluster": "beta"})
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert "cannot reach the cluster 'beta'" in err.value.message


@pytest.mark.parametrize(
    ("code", "answer", "expected", "phrase"),
    [
        (403, status(403, 'nodes "node-1" is forbidden: User "bob" cannot patch'), ErrorCode.FORBIDDEN, "cannot patch"),
        (409, status(409, "the object has been modified"), ErrorCode.CONFLICT, "has been modified"),
        (422, status(422, 'Node "node-1" is invalid: spec'), ErrorCode.INVALID, "is invalid"),
        (400, status(400, "bad patch"), ErrorCode.INVALID, "bad patch"),
    ],
)
async def test_api_errors_map_to_codes_and_keep_the_upstream_message(
    server: Scripted,
    kube: KubeClients,
    code: int,
    answer: Callable[[], web.StreamResponse],
    expected: ErrorCode,
    phrase: str,
) -> None:
    server.answers[("GET", "/api/v1/nodes/node-1")] = lambda: web.json_response(NODE)
    server.answers[("PATCH", "/api/v1/nodes/node-1")] = answer
    with pytest.raises(ToolFailure) as err:
        await run_tool(kube, "cordon_node", {"node": "node-1"})
    assert err.value.code == expected
    assert phrase in err.value.message and phrase in (err.value.upstream or "")
    assert server.count("PATCH", "/api/v1/nodes/node-1") == 1


async def test_a_missing_node_is_named_in_the_error(server: Scripted, kube: KubeClients) -> None:
    server.answers[("GET", "/api/v1/nodes/ghost")] = status(404, 'nodes "ghost" not found', name="ghost", kind="nodes")
    with pytest.raises(ToolFailure) as err:
        await run_tool(kube, "cordon_node", {"node": "ghost"})
    assert (err.value.code, err.value.message) == (ErrorCode.NOT_FOUND, "node 'ghost' not found")


async def test_impersonation_sends_the_user_and_every_group(server: Scripted, kube: KubeClients) -> None:
    server.answers[("GET", "/api/v1/nodes")] = lambda: web.json_response(
        {"kind": "NodeList", "items": [], "metadata": {}}
    )
    await run_tool(kube, "list_nodes", {}, impersonate_user="alice", impersonate_groups=["ops", "oncall"])
    await run_tool(kube, "list_nodes", {})
    first, second = [h for m, p, h in server.seen if p == "/api/v1/nodes"]
    assert first["Impersonate-User"] == ["alice"]
    assert first["Impersonate-Group"] == ["ops", "oncall"]
    assert "Impersonate-User" not in second and "Impersonate-Group" not in second


async def test_contexts_are_listed_with_their_server_and_the_current_one(server: Scripted, kube: KubeClients) -> None:
    result = await run_tool(kube, "list_clusters", {})
    assert [(c.name, c.server, c.current) for c in result.items] == [  # type: ignore[attr-defined]
        ("alpha", server.url, True),
        ("beta", "http://127.0.0.1:9", False),
    ]


async def test_an_unknown_cluster_is_refused_with_the_known_ones(kube: KubeClients) -> None:
    with pytest.raises(ToolFailure) as err:
        await run_tool(kube, "list_nodes", {"cluster": "gamma"})
    assert err.value.code == ErrorCode.NOT_FOUND
    assert "alpha, beta" in err.value.message


async def test_a_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    k = KubeClients(kubeconfig=tmp_path / "nope")
    with pytest.raises(ToolFailure) as err:
        await run_tool(k, "list_nodes", {})
    assert err.value.code == ErrorCode.UNAVAILABLE and "kubeconfig" in err.value.message


async def test_one_api_client_per_context_is_reused(server: Scripted, kube: KubeClients) -> None:
    server.answers[("GET", "/api/v1/nodes")] = lambda: web.json_response(
        {"kind": "NodeList", "items": [], "metadata": {}}
    )
    a = await kube.context()
    b = await kube.context("alpha")
    assert a.api_client is b.api_client
    c = await kube.context("beta")
    assert c.api_client is not a.api_client


async def test_a_dry_run_asks_the_server_for_dry_run_all(server: Scripted, kube: KubeClients) -> None:
    server.answers[("GET", "/api/v1/nodes/node-1")] = lambda: web.json_response(NODE)
    server.answers[("PATCH", "/api/v1/nodes/node-1")] = lambda: web.json_response(
        {**NODE, "spec": {"unschedulable": True}}
    )
    result = await run_tool(kube, "cordon_node", {"node": "node-1", "dry_run": True})
    assert result.dry_run  # type: ignore[attr-defined]
    patch = [q for (m, _, _), q in zip(server.seen, server.queries, strict=True) if m == "PATCH"]
    assert patch == ["dryRun=All"]
    plain = await run_tool(kube, "cordon_node", {"node": "node-1"})
    assert not plain.dry_run  # type: ignore[attr-defined]
    assert [q for (m, _, _), q in zip(server.seen, server.queries, strict=True) if m == "PATCH"] == ["dryRun=All", ""]


async def test_rejected_credentials_are_reloaded_on_the_next_call(server: Scripted, kube: KubeClients) -> None:
    answers = iter(
        [status(401, "Unauthorized"), lambda: web.json_response({"kind": "NodeList", "items": [], "metadata": {}})]
    )
    server.answers[("GET", "/api/v1/nodes")] = lambda: next(answers)()
    first = await kube.context()
    with pytest.raises(ToolFailure) as err:
        await run_tool(kube, "list_nodes", {})
    assert err.value.code == ErrorCode.FORBIDDEN and "rejected the credentials" in err.value.message
    assert server.count("GET", "/api/v1/nodes") == 1  # a 401 is not retried as such
    result = await run_tool(kube, "list_nodes", {})
    assert result.items == []  # type: ignore[attr-defined]
    assert (await kube.context()).api_client is not first.api_client


def test_in_a_pod_without_kubeconfig_the_service_account_cluster_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    k = KubeClients()
    assert k.in_cluster()
    assert [(c.name, c.server, c.current) for c in k.list_clusters()] == [("in-cluster", "https://10.96.0.1:443", True)]
    assert k.resolve(None) == "in-cluster"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "given"))
    assert not k.in_cluster()  # an explicit kubeconfig always wins


async def test_a_log_answer_is_cut_to_its_character_budget_keeping_the_newest_lines(
    server: Scripted, kube: KubeClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.k8s import reads

    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "dev"}, "spec": {"containers": [{"name": "app"}]}}
    lines = [f"line {i:02d} " + "x" * 40 for i in range(10)]
    server.answers[("GET", "/api/v1/namespaces/dev/pods/p")] = lambda: web.json_response(pod)
    server.answers[("GET", "/api/v1/namespaces/dev/pods/p/log")] = lambda: web.Response(text="\n".join(lines) + "\n")
    monkeypatch.setattr(reads, "MAX_LOG_CHARS", 120)
    out = await run_tool(kube, "pod_logs", {"namespace": "dev", "pod": "p", "tail_lines": 100})
    assert out.lines == lines[-2:] and out.truncated  # type: ignore[attr-defined]
    monkeypatch.setattr(reads, "MAX_LOG_CHARS", 10_000)
    out = await run_tool(kube, "pod_logs", {"namespace": "dev", "pod": "p", "tail_lines": 100})
    assert out.lines == lines and not out.truncated  # type: ignore[attr-defined]
    assert "tailLines=101" in server.queries[-1]
