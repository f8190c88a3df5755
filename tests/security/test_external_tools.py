"""External MCP tools (the real containers/kubernetes-mcp-server on the sandbox) can never change the cluster
without the gate: hints are not trusted, allow-lists belong to one server, and their `context` argument is the
cluster the policy judges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.approvals import PolicyGate
from bot.core.i18n import Lang
from bot.tooling.gateway import ToolGateway
from bot.tooling.mcp_config import McpServerConfig
from bot.tooling.mcp_source import McpSource
from bot.tooling.types import ToolCall
from tests.approvals.conftest import RecordingResponder, caller, card_text

ALICE = caller("alice", name="Alice")
READS = ["pods_list", "pods_list_in_namespace", "pods_get", "pods_log", "events_list", "namespaces_list"]
POLICY = """
version: 1
roles:
  viewer: {rules: [{name: read, verbs: ["*"], risks: [read]}]}
  operator: {rules: [{name: operate, verbs: ["*"]}]}
bindings:
  - {name: all, roles: [viewer, operator], subjects: ["console:alice"], chats: ["console:*"]}
deny:
  - {name: second-is-frozen, clusters: [second], verbs: ["*"], risks: [low, medium, high]}
"""


def two_contexts(sandbox: Any, tmp_path: Path) -> Path:
    path = Path(sandbox.write_kubeconfig(tmp_path / "kubeconfig.yaml"))
    doc = yaml.safe_load(path.read_text())
    first = doc["contexts"][0]["context"]
    doc["contexts"].append({"name": "second", "context": {"cluster": first["cluster"], "user": first["user"]}})
    path.write_text(yaml.safe_dump(doc))
    return path


def source(peers: dict[str, Path], kubeconfig: Path, name: str, **extra: Any) -> McpSource:
    return McpSource(
        McpServerConfig(
            name=name,
            command=str(peers["kubernetes-mcp-server"]),
            args=["--kubeconfig", str(kubeconfig)],
            startup_wait_seconds=30,
            **extra,
        )
    )


@pytest.fixture
async def multi(peers: dict[str, Path], sandbox: Any, tmp_path: Path) -> AsyncIterator[ToolGateway]:
    src = source(peers, two_contexts(sandbox, tmp_path), "k8smcp", read_only_tools=READS)
    gw = ToolGateway([src])
    await gw.refresh()
    yield gw
    await src.aclose()


async def test_an_external_change_on_another_context_is_judged_on_that_cluster(
    multi: ToolGateway, make_gate: Any, sandbox: Any
) -> None:
    gate: PolicyGate = make_gate(POLICY)
    info = multi.info("k8smcp_pods_delete")
    assert info is not None and info.mutates and "context" in info.properties
    pod = sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev"))[0]
    refused = RecordingResponder()
    call = ToolCall("k8smcp_pods_delete", {"namespace": "dev", "name": pod, "context": "second"})
    await gate.propose(ALICE, call, info, refused, Lang.EN)
    assert refused.sent[0][1].buttons == () and "second-is-frozen" in card_text(refused.sent[0][1])
    # the same change on the allowed context gets a confirmation card (and still runs nothing by itself)
    allowed = RecordingResponder()
    await gate.propose(ALICE, ToolCall(call.tool, {**call.args, "context": "sandbox"}), info, allowed, Lang.EN)
    assert allowed.sent[0][1].buttons
    assert pod in [p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev")]
    assert not [r for r in sandbox.cluster.requests if r[0] in ("DELETE", "PATCH", "POST", "PUT")]


async def test_a_read_only_hint_without_the_operators_review_is_not_a_read(multi: ToolGateway, make_gate: Any) -> None:
    gate: PolicyGate = make_gate(POLICY)
    top = multi.info("k8smcp_pods_top")
    assert top is not None and top.annotations.get("read_only_hint") is True and top.mutates
    verdict = await gate.check_read(ALICE, ToolCall("k8smcp_pods_top", {"namespace": "dev"}), top, Lang.EN)
    assert not verdict.allowed and verdict.rule == "builtin:mutation-needs-propose"


async def test_an_allow_list_belongs_to_its_server_not_to_a_tool_name(
    peers: dict[str, Path], sandbox: Any, tmp_path: Path
) -> None:
    kubeconfig = Path(sandbox.write_kubeconfig(tmp_path / "one.yaml"))
    # a second server configured first, with the same prefix and no allow-list, takes the names over
    impostor = source(peers, kubeconfig, "impostor", prefix="k8smcp_")
    reviewed = source(peers, kubeconfig, "k8smcp", read_only_tools=READS)
    gw = ToolGateway([impostor, reviewed])
    try:
        await gw.refresh()
        info = gw.info("k8smcp_pods_list")
        assert info is not None and info.source == "impostor"
        assert info.mutates  # the reviewed server's allow-list does not make the impostor's tool a read
    finally:
        await impostor.aclose()
        await reviewed.aclose()
