"""Attacks on the change path, with the real gate, the sandbox API over HTTP and real Redis: every one must end
with nothing changed in the cluster (and the honest path still working where it should)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from bot.approvals import PolicyGate
from bot.approvals.cards import CONFIRM
from bot.core.actions import Action, ActionCodec
from bot.core.events import Platform
from bot.core.i18n import Lang
from bot.policy import load_policy
from bot.store import Store
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from bot.tooling.types import ToolCall
from tests.approvals.conftest import CountingGateway, GateFactory, RecordingResponder, caller, card_text
from tests.approvals.test_flow import button, click, deployment, propose, replicas, scale
from tools.catalogue import CATALOGUE
from tools.k8s.client import KubeClients
from tools.spec import Risk

ALICE = caller("alice", name="Alice")
BOB = caller("bob", name="Bob")
CAROL = caller("carol", name="Carol")

# alice operates, bob and carol approve; production needs one approval (the file is rewritten by some tests)
TEAM = """
version: 1
roles:
  viewer: {{rules: [{{name: read, verbs: ["*"], risks: [read]}}]}}
  operator: {{rules: [{{name: operate, verbs: [scale, restart, delete]}}]}}
  approver: {{rules: [{{name: audit, verbs: [audit]}}]}}
bindings:
  - {{name: all-read, role: viewer, subjects: ["*"], chats: ["*"]}}
  - {{name: ops, role: operator, subjects: ["console:alice"], chats: ["console:*"]}}
  - {{name: apr, role: approver, subjects: ["console:bob", "console:carol"], chats: ["console:*"]}}
deny:
{deny}
approvals:
  - {{name: prod, namespaces: [production], approvers: [approver], count: {count}}}
"""


def team(count: int = 1, deny: str = "  - {name: no-secrets, resources: [secrets]}") -> str:
    return TEAM.format(count=count, deny=deny)


def reload(gate: PolicyGate, tmp_path: Path, text: str) -> None:
    f = tmp_path / "reloaded.yaml"
    f.write_text(text)
    gate.policy = load_policy([f])


async def test_a_change_without_a_cluster_is_judged_on_the_cluster_it_really_runs_on(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    # The tools run on the kubeconfig's context "sandbox"; a deny on that cluster must hold even when the user
    # names no cluster (the gate used to judge such calls as cluster "default").
    gate = make_gate(team(deny="  - {name: frozen-cluster, verbs: [scale], clusters: [sandbox]}"))
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    assert card.buttons == () and "frozen-cluster" in card_text(card)
    assert gateway.dry_runs == [] and gateway.executed == [] and replicas(sandbox, "dev", name) == before


async def test_the_cluster_is_pinned_into_the_approved_call(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate(team())
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    await click(gate, ALICE, button(card, CONFIRM))
    # what ran names its cluster, so a kubeconfig whose current context changes meanwhile cannot redirect it
    assert [c.args.get("cluster") for c in gateway.executed] == ["sandbox"]
    assert replicas(sandbox, "dev", name) == before + 1


async def test_a_stricter_approval_rule_loaded_after_the_proposal_is_not_met_by_the_old_count(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, tmp_path: Path
) -> None:
    gate = make_gate(team(count=1))
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    reload(gate, tmp_path, team(count=2))
    r = await click(gate, BOB, button(card, CONFIRM))
    assert r.toasts and "approval rule changed" in r.toasts[0]
    assert gateway.executed == [] and replicas(sandbox, "production", name) == before


async def test_a_deny_rule_added_for_the_requester_after_the_proposal_stops_the_approval(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, tmp_path: Path
) -> None:
    gate = make_gate(team())
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    reload(gate, tmp_path, team(deny="  - {name: alice-frozen, subjects: [console:alice], verbs: ['*']}"))
    r = await click(gate, BOB, button(card, CONFIRM))
    assert r.toasts == ["The requester is no longer allowed to make this change."]
    assert gateway.executed == [] and replicas(sandbox, "production", name) == before


async def test_a_deny_rule_added_for_the_approver_after_the_proposal_stops_their_approval(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, tmp_path: Path
) -> None:
    gate = make_gate(team())
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    reload(gate, tmp_path, team(deny="  - {name: bob-frozen, subjects: [console:bob], verbs: [scale]}"))
    r = await click(gate, BOB, button(card, CONFIRM))
    assert r.toasts and r.toasts[0].startswith("You cannot approve this change")
    assert gateway.executed == [] and replicas(sandbox, "production", name) == before
    ok = await click(gate, CAROL, button(card, CONFIRM))  # an approver the new rule does not cover still can
    assert ok.updates and replicas(sandbox, "production", name) == before + 1


async def test_an_approval_for_a_tool_that_was_removed_runs_nothing(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate(team())
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=10.0)
    try:
        without = {k: v for k, v in CATALOGUE.items() if k != "scale_deployment"}
        gateway.inner = ToolGateway([BuiltinSource(kube, catalogue=without)])  # the tool list was reloaded
        r = await click(gate, ALICE, button(card, CONFIRM))
    finally:
        await kube.close()
    assert r.toasts and "gone or has changed" in r.toasts[0]
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


async def test_an_approval_for_a_tool_whose_verb_or_risk_changed_runs_nothing(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate(team())
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=10.0)
    try:
        changed = dict(CATALOGUE)
        changed["scale_deployment"] = dataclasses.replace(CATALOGUE["scale_deployment"], verb="delete", risk=Risk.HIGH)
        gateway.inner = ToolGateway([BuiltinSource(kube, catalogue=changed)])
        r = await click(gate, ALICE, button(card, CONFIRM))
    finally:
        await kube.close()
    assert r.toasts and "gone or has changed" in r.toasts[0]
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


async def test_a_record_whose_facts_were_rewritten_in_redis_runs_nothing(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store
) -> None:
    # Someone with write access to Redis relabels a production change as a dev one (no approval needed) and
    # sets `needed` to 0: the call and its hash are untouched, so only the facts check can catch it.
    gate = make_gate(team())
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    key = store.keys.approval(button(card, CONFIRM).args["id"])
    raw = await store.get_record(key)
    assert raw is not None
    facts = json.loads(raw["facts"])
    assert facts["namespace"] == "production"
    await store.update_record(key, {"facts": json.dumps({**facts, "namespace": "dev"}), "needed": "0"})
    r = await click(gate, ALICE, button(card, CONFIRM))
    assert r.toasts and "gone or has changed" in r.toasts[0]
    assert gateway.executed == [] and replicas(sandbox, "production", name) == before


async def test_a_validly_signed_confirm_replayed_in_another_chat_runs_nothing(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, codec: ActionCodec
) -> None:
    gate = make_gate(team())
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    approval_id = button(card, CONFIRM).args["id"]
    # the bot would sign the same id for another chat (e.g. a copied card): the record's chat still decides
    elsewhere = caller("alice", chat="other-room")
    payload = codec.encode(Action(CONFIRM, {"id": approval_id}), elsewhere.conversation.chat_key)
    action = codec.decode(payload, elsewhere.conversation.chat_key)
    r = RecordingResponder()
    await gate.on_action(elsewhere, action, r, Lang.EN, None)
    assert r.toasts == ["This button belongs to another chat."]
    # and the same person on another platform is another chat, so another identity cannot approve either
    other_platform = caller("alice", chat="local", platform=Platform.DINGTALK)
    r2 = RecordingResponder()
    await gate.on_action(other_platform, action, r2, Lang.EN, None)
    assert r2.toasts == ["This button belongs to another chat."]
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


async def test_extra_or_switched_arguments_never_reach_the_cluster(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate(team())
    name, before = deployment(sandbox, "dev")
    r = RecordingResponder()
    await gate.propose(ALICE, scale("dev", name, before + 1, force=True), gateway.info("scale_deployment"), r, Lang.EN)
    assert r.sent and r.sent[0][1].buttons == () and "force" in card_text(r.sent[0][1])
    r2 = RecordingResponder()
    await gate.propose(
        ALICE, scale("dev", name, before + 1, cluster="prod-east"), gateway.info("scale_deployment"), r2, Lang.EN
    )
    assert r2.sent and r2.sent[0][1].buttons == ()  # no such context: the dry run fails, no approval exists
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


async def test_a_read_without_a_cluster_is_judged_on_the_cluster_it_really_reads(
    make_gate: GateFactory, gateway: CountingGateway
) -> None:
    gate = make_gate(team(deny="  - {name: no-sandbox-reads, clusters: [sandbox], verbs: [list]}"))
    pods = gateway.info("list_pods")
    verdict = await gate.check_read(ALICE, ToolCall("list_pods", {"namespace": "dev"}), pods, Lang.EN)
    assert not verdict.allowed and verdict.rule.startswith("no-sandbox-reads")
    other = await gate.check_read(ALICE, ToolCall("list_pods", {"namespace": "dev", "cluster": "x"}), pods, Lang.EN)
    assert other.allowed  # the rule names a cluster, not every cluster


DAVE = caller("dave", name="Dave")
ROLES = """
version: 1
roles:
  operator: {{rules: [{{name: operate, verbs: [scale]}}]}}
  approver: {{rules: [{{name: a, verbs: [audit]}}]}}
  lead: {{rules: [{{name: l, verbs: [audit]}}]}}
bindings:
  - {{name: ops, role: operator, subjects: ["console:alice"], chats: ["console:*"]}}
  - {{name: apr, role: approver, subjects: [{approvers}], chats: ["console:*"]}}
  - {{name: lead, role: lead, subjects: ["console:carol"], chats: ["console:*"]}}
approvals:
  - {{name: prod, namespaces: [production], approvers: [{roles}], count: {count}}}
"""


def roles_policy(approvers: str, roles: str, count: int) -> str:
    return ROLES.format(approvers=approvers, roles=roles, count=count)


async def test_an_approver_role_dropped_from_the_rule_after_the_proposal_cannot_approve(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, tmp_path: Path
) -> None:
    gate = make_gate(roles_policy('"console:bob"', "approver, lead", 1))
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    reload(gate, tmp_path, roles_policy('"console:bob"', "approver", 1))  # leads no longer approve
    r = await click(gate, CAROL, button(card, CONFIRM))
    assert r.toasts and r.toasts[0].startswith("You cannot approve this change")
    assert gateway.executed == [] and replicas(sandbox, "production", name) == before
    await click(gate, BOB, button(card, CONFIRM))
    assert replicas(sandbox, "production", name) == before + 1


async def test_an_earlier_approval_stops_counting_when_its_approver_loses_the_role(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, tmp_path: Path
) -> None:
    everyone = '"console:bob", "console:carol", "console:dave"'
    gate = make_gate(roles_policy(everyone, "approver", 2))
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    first = await click(gate, BOB, button(card, CONFIRM))
    assert first.toasts == ["Your approval is recorded (1/2)."]
    reload(gate, tmp_path, roles_policy('"console:carol", "console:dave"', "approver", 2))  # bob left the team
    second = await click(gate, CAROL, button(card, CONFIRM))
    assert second.toasts == ["Your approval is recorded (1/2)."]  # bob's approval no longer counts
    assert gateway.executed == [] and replicas(sandbox, "production", name) == before
    await click(gate, DAVE, button(card, CONFIRM))
    assert len(gateway.executed) == 1 and replicas(sandbox, "production", name) == before + 1
