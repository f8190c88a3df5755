"""The client's TLS path (CA from the kubeconfig, client certificates) through the real `kubernetes` client, and
credential rotation in tools/k8s/client.py: a 401 reloads the kubeconfig / token file and retries once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tools.k8s.client import KubeClients
from tools.sandbox import SandboxHandle
from tools.spec import ErrorCode, ToolFailure


def test_the_kubernetes_client_logs_in_with_a_client_certificate_over_tls(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    assert sandbox.url.startswith("https://")
    path = sandbox.write_kubeconfig(tmp_path / "kc", client=sandbox.client_certificate("carol", ("viewers",)))
    api = config.new_client_from_config(config_file=str(path))
    try:
        core = client.CoreV1Api(api)
        names = {n.metadata.name for n in core.list_namespace().items if n.metadata is not None}
        assert names == {"default", "dev", "kube-system", "production"}
        with pytest.raises(ApiException) as refused:
            core.delete_namespaced_pod("redis-0", "dev")
        assert refused.value.status == 403
        assert 'User "carol" cannot delete' in json.loads(str(refused.value.body))["message"]
    finally:
        api.close()


@pytest.fixture
async def rotating(sandbox: SandboxHandle, tmp_path: Path) -> AsyncIterator[tuple[KubeClients, Path]]:
    token_file = tmp_path / "token"
    token_file.write_text("first-token")
    sandbox.auth.set_token("first-token", "sandbox-admin", ("system:masters",))
    kube = KubeClients(kubeconfig=sandbox.write_kubeconfig(tmp_path / "kc", token_file=token_file))
    try:
        yield kube, token_file
    finally:
        await kube.close()


def _calls(sandbox: SandboxHandle, method: str, path: str) -> int:
    return sum(1 for m, p in sandbox.cluster.requests if (m, p) == (method, path))


async def test_a_rotated_token_file_is_reloaded_after_a_401_and_the_read_retried_once(
    sandbox: SandboxHandle, rotating: tuple[KubeClients, Path]
) -> None:
    kube, token_file = rotating
    ctx = await kube.context()
    assert (await ctx.read_json(ctx.core.list_namespace_without_preload_content))["items"]
    sandbox.auth.revoke("first-token")
    sandbox.auth.set_token("second-token", "sandbox-admin", ("system:masters",))
    token_file.write_text("second-token")
    sandbox.cluster.reset_requests()
    ctx = await kube.context()
    listed = await ctx.read_json(ctx.core.list_namespace_without_preload_content)
    assert len(listed["items"]) == 4
    assert _calls(sandbox, "GET", "/api/v1/namespaces") == 2  # the refused one and its retry


async def test_a_write_refused_for_old_credentials_runs_once_with_the_new_ones(
    sandbox: SandboxHandle, rotating: tuple[KubeClients, Path]
) -> None:
    kube, token_file = rotating
    ctx = await kube.context()
    sandbox.auth.revoke("first-token")
    sandbox.auth.set_token("second-token", "sandbox-admin", ("system:masters",))
    token_file.write_text("second-token")
    sandbox.cluster.reset_requests()
    patch = {"metadata": {"labels": {"rotated": "yes"}}}
    await ctx.write_json(ctx.core.patch_namespace_without_preload_content, "dev", patch)
    ns = sandbox.cluster.get("namespace", None, "dev")
    assert ns is not None and ns["metadata"]["labels"]["rotated"] == "yes"
    assert _calls(sandbox, "PATCH", "/api/v1/namespaces/dev") == 2


async def test_a_rewritten_kubeconfig_is_picked_up_the_same_way(sandbox: SandboxHandle, tmp_path: Path) -> None:
    path = sandbox.write_kubeconfig(tmp_path / "kc", token="bob-token")
    kube = KubeClients(kubeconfig=path)
    try:
        ctx = await kube.context()
        assert (await ctx.read_json(ctx.core.list_namespaced_pod_without_preload_content, "dev"))["items"]
        sandbox.auth.revoke("bob-token")
        sandbox.auth.set_token("bob-token-2", "bob")
        sandbox.write_kubeconfig(path, token="bob-token-2")
        pods = await ctx.read_json(ctx.core.list_namespaced_pod_without_preload_content, "dev")
        assert len(pods["items"]) == 5
    finally:
        await kube.close()


async def test_credentials_that_stay_wrong_give_one_request_and_a_clear_failure(
    sandbox: SandboxHandle, rotating: tuple[KubeClients, Path]
) -> None:
    kube, _ = rotating
    sandbox.auth.revoke("first-token")
    sandbox.cluster.reset_requests()
    ctx = await kube.context()
    with pytest.raises(ToolFailure) as failure:
        await ctx.read_json(ctx.core.list_namespace_without_preload_content)
    assert failure.value.code == ErrorCode.FORBIDDEN and "rejected the credentials" in failure.value.message
    assert _calls(sandbox, "GET", "/api/v1/namespaces") == 1  # same credentials on disk: no pointless retry
