"""The bot's impersonation meets real RBAC: a chat user the policy lets scale, mapped to a Kubernetes user the
cluster does not let scale, gets the cluster's 403 as a clear refusal, and nothing changes."""

from __future__ import annotations

from bot.approvals.cards import CONFIRM
from bot.core.i18n import Lang
from bot.tooling.types import ToolCall
from tests.approvals.conftest import CountingGateway, GateFactory, RecordingResponder, caller, card_text
from tools.sandbox import SandboxHandle

ALICE = caller("alice", name="Alice")
POLICY = """
version: 1
roles:
  operator:
    rules:
      - verbs: [scale]
        namespaces: [dev]
bindings:
  - role: operator
    subjects: [console:alice]
    chats: ['console:*']
impersonation:
  - subjects: [console:alice]
    user: kd:intern
    groups: [kd:interns]
"""


def _replicas(sandbox: SandboxHandle) -> int:
    d = sandbox.cluster.get("deployment", "dev", "cart-service-v1")
    assert d is not None
    return int(d["spec"]["replicas"])


async def _propose(make_gate: GateFactory, gateway: CountingGateway, lang: Lang) -> RecordingResponder:
    gate = make_gate(POLICY)
    call = ToolCall("scale_deployment", {"namespace": "dev", "deployment": "cart-service-v1", "replicas": 3})
    r = RecordingResponder()
    await gate.propose(ALICE, call, gateway.info(call.tool), r, lang)
    return r


def _everything(r: RecordingResponder) -> str:
    return "\n".join([*(card_text(c) for _, c in [*r.sent, *r.updates]), *r.toasts])


async def test_the_clusters_403_is_a_clear_refusal_after_the_policy_allowed_the_change(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: SandboxHandle
) -> None:
    sandbox.grant(user="kd:intern", role="view", namespace="dev")  # may look, may not scale
    sandbox.server.access_log.clear()
    r = await _propose(make_gate, gateway, Lang.EN)
    text = _everything(r)
    assert gateway.identities and all(i[1:] == ("kd:intern", ("kd:interns",)) for i in gateway.identities)
    refused = [a for user, a, ok in sandbox.server.access_log if user == "kd:intern" and not ok]
    assert [(a.verb, a.resource, a.subresource) for a in refused] == [("patch", "deployments", "scale")]
    assert 'User "kd:intern" cannot patch resource "deployments/scale"' in text
    assert not any(b.action.op == CONFIRM for _, c in r.sent for b in c.buttons)  # nothing to confirm
    assert _replicas(sandbox) == 1


async def test_the_refusal_is_worded_in_chinese_for_a_chinese_user(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: SandboxHandle
) -> None:
    sandbox.grant(user="kd:intern", role="view", namespace="dev")
    text = _everything(await _propose(make_gate, gateway, Lang.ZH))
    assert "kd:intern" in text and any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert _replicas(sandbox) == 1


async def test_with_the_right_granted_the_same_change_goes_to_confirmation(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: SandboxHandle
) -> None:
    sandbox.grant(user="kd:intern", role="edit", namespace="dev")
    r = await _propose(make_gate, gateway, Lang.EN)
    assert any(b.action.op == CONFIRM for _, c in r.sent for b in c.buttons), _everything(r)
