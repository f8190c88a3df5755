"""Secrets through a third-party MCP server (containers/kubernetes-mcp-server over stdio, on the sandbox): the
operator's example allow-list makes its generic `resources_get/list` reads, so everything it returns must be
masked by the bot, and Secret objects must be refused whatever spelling the call uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.approvals import PolicyGate
from bot.core.i18n import Lang
from bot.tooling.gateway import ToolGateway
from bot.tooling.mcp_config import McpServerConfig
from bot.tooling.mcp_source import McpSource
from bot.tooling.types import ToolCall
from tests.approvals.conftest import caller
from tests.tools.test_no_secrets import SEEDED

# The reads the shipped example (deploy/mcp-servers.example.yaml) allow-lists.
EXAMPLE_READS = [
    "configuration_view",
    "events_list",
    "namespaces_list",
    "pods_list",
    "pods_list_in_namespace",
    "pods_get",
    "pods_log",
    "resources_list",
    "resources_get",
]
ALICE = caller("alice")


@pytest.fixture
async def external(peers: dict[str, Path], sandbox: Any) -> AsyncIterator[ToolGateway]:
    source = McpSource(
        McpServerConfig(
            name="k8smcp",
            command=str(peers["kubernetes-mcp-server"]),
            args=["--kubeconfig", str(sandbox.kubeconfig_path), "--disable-multi-cluster"],
            read_only_tools=EXAMPLE_READS,
            startup_wait_seconds=30,
        )
    )
    gw = ToolGateway([source])
    await gw.refresh()
    assert gw.info("k8smcp_resources_get") is not None, source.status()
    yield gw
    await source.aclose()


def credentials(kubeconfig: Path) -> list[str]:
    out = []
    for line in kubeconfig.read_text().splitlines():
        key, _, value = line.strip().partition(":")
        if key in ("token", "client-key-data", "password") and value.strip():
            out.append(value.strip())
    return out


def leaks(text: str) -> list[str]:
    return [s for s in SEEDED if s in text]


async def test_an_external_generic_read_of_a_deployment_never_shows_its_database_password_or_token(
    external: ToolGateway, sandbox: Any
) -> None:
    for kind, ns, name in (("Deployment", "production", "orders"), ("Deployment", "production", "web")):
        out = await external.call(
            ToolCall("k8smcp_resources_get", {"apiVersion": "apps/v1", "kind": kind, "namespace": ns, "name": name})
        )
        assert out.ok, out.error
        assert name in out.text  # the object really came back, only its credentials are masked
        assert leaks(out.text + str(out.data)) == [], f"{kind} {ns}/{name}"
    listed = await external.call(
        ToolCall("k8smcp_resources_list", {"apiVersion": "v1", "kind": "Pod", "namespace": "production"})
    )
    assert listed.ok and "orders" in listed.text
    assert leaks(listed.text + str(listed.data)) == []


async def test_an_external_error_that_echoes_upstream_text_is_masked(external: ToolGateway) -> None:
    out = await external.call(ToolCall("k8smcp_pods_get", {"namespace": "dev", "name": "password=S3cr3t-Passw0rd"}))
    assert not out.ok
    assert "password=****" in (out.error or "")  # the upstream message echoes the name, masked
    assert "S3cr3t-Passw0rd" not in (out.error or "") + out.text


async def test_secret_objects_are_refused_to_external_generic_tools_in_every_spelling(
    external: ToolGateway, make_gate: Any
) -> None:
    gate: PolicyGate = make_gate()
    spellings: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Secret"},
        {"apiVersion": "v1", "kind": "secrets"},
        {"apiVersion": "v1", "kind": " SECRET "},
        {"apiVersion": "v1", "kind": "Secret.v1"},
        {"apiVersion": "v1", "kind": "secrets/v1"},
        {"apiVersion": "v1", "kind": "v1/Secret"},
    ]
    for tool in ("k8smcp_resources_get", "k8smcp_resources_list"):
        info = external.info(tool)
        assert info is not None and not info.mutates
        for args in spellings:
            full = {**args, "namespace": "production", **({"name": "db-credentials"} if "get" in tool else {})}
            verdict = await gate.check_read(ALICE, ToolCall(tool, full), info, Lang.EN)
            assert not verdict.allowed and verdict.rule == "builtin:no-secrets", (tool, args)
    # and an ordinary kind is still readable
    cm = await gate.check_read(
        ALICE,
        ToolCall("k8smcp_resources_list", {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "production"}),
        external.info("k8smcp_resources_list"),  # type: ignore[arg-type]
        Lang.EN,
    )
    assert cm.allowed


async def test_the_external_kubeconfig_view_shows_no_credentials(external: ToolGateway, sandbox: Any) -> None:
    for minified in (True, False):
        out = await external.call(ToolCall("k8smcp_configuration_view", {"minified": minified}))
        assert out.ok, out.error
        assert "sandbox" in out.text
        creds = credentials(Path(sandbox.kubeconfig_path))
        assert creds  # the sandbox kubeconfig does hold a credential to leak
        for value in creds:
            assert value not in out.text


async def test_the_read_only_fallback_gate_refuses_secrets_to_external_generic_tools_too(
    external: ToolGateway,
) -> None:
    from bot.approvals import ReadOnlyGate

    info = external.info("k8smcp_resources_get")
    assert info is not None
    call = ToolCall("k8smcp_resources_get", {"apiVersion": "v1", "kind": "Secret", "namespace": "production"})
    verdict = await ReadOnlyGate().check_read(ALICE, call, info, Lang.EN)
    assert not verdict.allowed and verdict.rule == "builtin:no-secrets"
    pods = ToolCall("k8smcp_resources_get", {"apiVersion": "v1", "kind": "Pod", "namespace": "production"})
    assert (await ReadOnlyGate().check_read(ALICE, pods, info, Lang.EN)).allowed
