"""The whole safe-change flow against the sandbox cluster (over HTTP) with real Redis: refusals, dry-run
previews, confirmation by the right people, exactly-once execution, expiry, tampering, audit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.approvals import PolicyGate
from bot.approvals.cards import CANCEL, CONFIRM
from bot.core.actions import Action, ActionCodec, InvalidPayload, PayloadError
from bot.core.events import Platform
from bot.core.i18n import Lang
from bot.policy import load_policy
from bot.render.model import Card
from bot.store import Store
from bot.tooling.types import ToolCall
from tests.approvals.conftest import (
    CountingGateway,
    FakeClock,
    GateFactory,
    RaceStore,
    RecordingResponder,
    caller,
    card_text,
)

ALICE = caller("alice", name="Alice")
BOB = caller("bob", name="Bob")
CAROL = caller("carol", name="Carol")


def deployment(sandbox: Any, namespace: str) -> tuple[str, int]:
    items = sorted(sandbox.cluster.list_objects("deployments", namespace), key=lambda d: d["metadata"]["name"])
    assert items, f"the sandbox has no deployment in {namespace}"
    d = items[0]
    return d["metadata"]["name"], int(d["spec"].get("replicas", 1))


def replicas(sandbox: Any, namespace: str, name: str) -> int:
    return int(sandbox.cluster.get("deployments", namespace, name)["spec"]["replicas"])


def scale(ns: str, name: str, n: int, **extra: Any) -> ToolCall:
    return ToolCall("scale_deployment", {"namespace": ns, "deployment": name, "replicas": n, **extra})


async def propose(
    gate: PolicyGate, gw: CountingGateway, who: Any, call: ToolCall, lang: Lang = Lang.EN
) -> tuple[RecordingResponder, Card]:
    r = RecordingResponder()
    await gate.propose(who, call, gw.info(call.tool), r, lang)
    assert len(r.sent) == 1, r.toasts
    return r, r.sent[0][1]


def button(card: Card, op: str) -> Action:
    return next(b.action for b in card.buttons if b.action.op == op)


async def click(gate: PolicyGate, who: Any, action: Action, ref: str = "msg-1") -> RecordingResponder:
    r = RecordingResponder()
    await gate.on_action(who, action, r, Lang.EN, ref)
    return r


async def audit_rows(store: Store) -> list[dict[str, str]]:
    return list(reversed(await store.read_stream_tail(store.keys.audit_stream(), 500)))


# ---------------------------------------------------------------- refusals


async def test_an_unauthorised_user_is_refused_with_the_missing_permission_and_nothing_is_created(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    stranger = caller("staff42", chat="cidSomeGroup", platform=Platform.DINGTALK)
    r, card = await propose(gate, gateway, stranger, scale("dev", name, before + 1))
    assert card.buttons == ()
    assert "not enabled for you in this chat" in card_text(card)
    assert gateway.dry_runs == [] and gateway.executed == []
    assert replicas(sandbox, "dev", name) == before
    rows = await audit_rows(store)
    assert [(x["event"], x["decision"], x["user"]) for x in rows] == [("refuse", "deny", "dingtalk:staff42")]


async def test_a_viewer_is_told_which_permission_is_missing(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate(
        "version: 1\nroles:\n  viewer:\n    rules:\n      - verbs: ['*']\n        risks: [read]\n"
        "bindings:\n  - role: viewer\n    subjects: ['*']\n    chats: ['*']\n"
    )
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1), Lang.ZH)
    text = card_text(card)
    assert "没有权限" in card.title and "`scale`" in text and "`deployments`" in text and "`dev`" in text
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


async def test_a_dry_run_that_fails_gives_an_error_card_and_no_approval(
    make_gate: GateFactory, gateway: CountingGateway, store: Store
) -> None:
    gate = make_gate()
    _, card = await propose(gate, gateway, ALICE, scale("dev", "no-such-deployment", 3))
    assert card.buttons == () and "not found" in card_text(card).lower()
    assert gateway.executed == [] and len(gateway.dry_runs) == 1
    assert [x["event"] for x in await audit_rows(store)] == ["propose"]
    assert "dry run failed" in (await audit_rows(store))[0]["result"]


# ---------------------------------------------------------------- the happy path


async def test_the_requester_sees_the_exact_change_confirms_and_the_replicas_change(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store, tmp_path: Path
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    after = before + 2
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, after))
    text = card_text(card)
    assert f"replicas | {before} | {after}" in text, text
    # the card names the cluster that really changes (the tools' default context), never a placeholder
    assert "dev" in text and name in text and "Cluster: sandbox" in text
    assert {b.action.op for b in card.buttons} == {CONFIRM, CANCEL}
    assert all(set(b.action.args) == {"id"} for b in card.buttons)
    assert replicas(sandbox, "dev", name) == before  # the preview was a dry run

    r = await click(gate, ALICE, button(card, CONFIRM))
    assert replicas(sandbox, "dev", name) == after
    assert len(gateway.executed) == 1 and gateway.executed[0].args["dry_run"] is False
    assert r.updates and r.updates[-1][0] == "msg-1" and r.updates[-1][1].title.startswith("Done")

    rows = await audit_rows(store)
    assert [x["event"] for x in rows] == ["propose", "confirm", "execute"]
    digest = scale("dev", name, after, cluster="sandbox", dry_run=False).digest()  # the cluster is pinned
    assert {x["call_hash"] for x in rows} == {digest}
    assert rows[-1]["decision"] == "executed" and rows[-1]["approvers"] == "console:alice"
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [x["event"] for x in lines] == ["propose", "confirm", "execute"]
    assert all(x["platform"] == "console" and x["chat"] == "console:local" and x["time"] for x in lines)


async def test_someone_else_cannot_confirm_a_change_that_needs_no_approval(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    r = await click(gate, BOB, button(card, CONFIRM))
    assert r.toasts and "Only the person who asked" in r.toasts[0]
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


async def test_a_cancelled_change_never_runs(make_gate: GateFactory, gateway: CountingGateway, sandbox: Any) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    r = await click(gate, ALICE, button(card, CANCEL))
    assert r.updates[-1][1].title.startswith("Cancelled")
    late = await click(gate, ALICE, button(card, CONFIRM))
    assert late.toasts == ["This change was cancelled."] and late.updates == []
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


# ---------------------------------------------------------------- second person


async def test_a_production_change_needs_a_second_person_and_the_requester_cannot_self_approve(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    assert "Needs 1 approval(s) by someone else" in card_text(card)

    own = await click(gate, ALICE, button(card, CONFIRM))
    assert own.toasts and "cannot approve your own request" in own.toasts[0]
    assert gateway.executed == [] and replicas(sandbox, "production", name) == before

    outsider = await click(gate, caller("mallory", chat="local", platform=Platform.DINGTALK), button(card, CONFIRM))
    assert outsider.toasts == ["This button belongs to another chat."]

    r = await click(gate, BOB, button(card, CONFIRM))
    assert replicas(sandbox, "production", name) == before + 1
    assert len(gateway.executed) == 1
    done = r.updates[-1][1]
    assert done.title.startswith("Done") and "console:bob" in card_text(done) and "Alice" in card_text(done)
    rows = await audit_rows(store)
    assert [(x["event"], x["user"]) for x in rows][-2:] == [("approve", "console:bob"), ("execute", "console:bob")]
    assert rows[-1]["approvers"] == "console:bob"


TWO_APPROVERS = """
version: 1
roles:
  operator:
    rules:
      - verbs: [scale]
  approver:
    rules:
      - verbs: [audit]
bindings:
  - role: operator
    subjects: [console:alice]
    chats: ['console:*']
  - role: approver
    subjects: [console:bob, console:carol, console:dave, console:alice]
    chats: ['console:*']
approvals:
  - name: prod-two
    namespaces: [production]
    approvers: [approver]
    count: 2
"""


async def test_two_approvals_need_two_distinct_people_and_concurrent_clicks_run_once(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store
) -> None:
    race = RaceStore(store)
    gate = make_gate(TWO_APPROVERS, on=race)
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    assert "Approved: 0/2" in card_text(card)

    first = await click(gate, BOB, button(card, CONFIRM))
    assert first.toasts == ["Your approval is recorded (1/2)."] and "Approved: 1/2" in card_text(first.updates[-1][1])
    again = await click(gate, BOB, button(card, CONFIRM))
    assert again.toasts == ["You have already approved this."]
    assert gateway.executed == [] and replicas(sandbox, "production", name) == before

    # carol and dave both complete the approval at once, each clicking twice: one execution only
    race.arm(4)
    results = await asyncio.gather(*(click(gate, who, button(card, CONFIRM)) for who in (CAROL, caller("dave")) * 2))
    assert len(gateway.executed) == 1
    assert replicas(sandbox, "production", name) == before + 1
    assert sum(1 for r in results if r.updates and r.updates[-1][1].title.startswith("Done")) == 1
    execs = [x for x in await audit_rows(store) if x["event"] == "execute"]
    assert len(execs) == 1 and execs[0]["approvers"].split(",")[0] == "console:bob"
    assert len(set(execs[0]["approvers"].split(","))) == 2


async def test_a_double_click_and_racing_replicas_execute_once(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store
) -> None:
    race = RaceStore(store)
    replica_a, replica_b = make_gate(on=race), make_gate(on=race)  # two bots sharing one Redis
    name, before = deployment(sandbox, "dev")
    _, card = await propose(replica_a, gateway, ALICE, scale("dev", name, before + 3))
    action = button(card, CONFIRM)
    race.arm(8)
    results = await asyncio.gather(*(click(g, ALICE, action) for g in (replica_a, replica_b) * 4))
    assert len(gateway.executed) == 1
    assert replicas(sandbox, "dev", name) == before + 3
    toasts = [t for r in results for t in r.toasts]
    # while the winner runs it the others hear "being run"; once it is done, "already run" (never a false one)
    assert len(toasts) == 7
    assert set(toasts) <= {"This change has already been run.", "This change is being run right now."}


async def test_a_replayed_callback_after_execution_changes_nothing(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    await click(gate, ALICE, button(card, CONFIRM))
    sandbox.cluster.get("deployments", "dev", name)
    # someone scales it back by hand; a redelivered click must not scale it up again
    await gateway.call(scale("dev", name, before, dry_run=False))
    gateway.executed.clear()
    late = await click(gate, ALICE, button(card, CONFIRM))
    assert late.toasts == ["This change has already been run."] and late.updates == []
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


# ---------------------------------------------------------------- expiry and tampering


async def test_an_expired_approval_gets_a_toast_and_runs_nothing(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, clock: FakeClock, store: Store
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    clock.now += 601
    r = await click(gate, ALICE, button(card, CONFIRM))
    assert r.toasts == ["This approval has expired; nothing ran."]
    assert r.updates[-1][1].title.startswith("Expired")
    again = await click(gate, ALICE, button(card, CONFIRM))
    assert again.toasts == ["This approval has expired; nothing ran."] and again.updates == []
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before
    assert (await audit_rows(store))[-1]["event"] == "expire"


async def test_a_record_that_redis_lost_is_treated_as_expired(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    await store.delete(store.keys.approval(card.meta["approval_id"]))
    r = await click(gate, ALICE, button(card, CONFIRM))
    assert r.toasts and "expired or does not exist" in r.toasts[0]
    assert gateway.executed == []


async def test_forged_or_altered_payloads_change_nothing(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store, codec: ActionCodec
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    good = button(card, CONFIRM)

    # the signed button payload: a flipped character, or a payload replayed in another chat, is refused
    wire = codec.encode(good, "console:local")
    body, mac = wire.split(".")
    forged = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    with pytest.raises(InvalidPayload) as err:
        codec.decode(forged, "console:local")
    assert err.value.reason is PayloadError.FORGED
    with pytest.raises(InvalidPayload):
        codec.decode(wire, "console:other")
    assert codec.decode(wire, "console:local") == good

    # args other than the id are ignored: the stored call runs, not one built from the button
    for bad in ({"id": "../../etc"}, {"id": "0" * 32}, {}, {"id": 7}):
        r = await click(gate, ALICE, Action(CONFIRM, bad))
        assert r.toasts and r.updates == []
    assert gateway.executed == []

    # the stored call altered in Redis (hash kept): integrity check refuses it
    key = store.keys.approval(good.args["id"])
    raw = await store.get_record(key)
    assert raw is not None
    altered = json.loads(raw["call"])
    altered["args"]["replicas"] = 50
    await store.update_record(key, {"call": json.dumps(altered, sort_keys=True, separators=(",", ":"))})
    r = await click(gate, ALICE, good)
    assert r.toasts == ["This approval failed its integrity check; it will not run."]
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before
    assert (await audit_rows(store))[-1]["event"] == "tamper"


async def test_the_user_cannot_smuggle_dry_run_false_into_the_preview_or_true_into_the_change(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1, dry_run=False))
    assert replicas(sandbox, "dev", name) == before and gateway.executed == []
    assert gateway.dry_runs[0].args["dry_run"] is True
    await click(gate, ALICE, button(card, CONFIRM))
    assert replicas(sandbox, "dev", name) == before + 1


# ---------------------------------------------------------------- reads and audit


async def test_reads_follow_the_policy_and_secrets_are_never_readable(
    make_gate: GateFactory, gateway: CountingGateway
) -> None:
    gate = make_gate()
    pods = gateway.info("list_pods")
    ok = await gate.check_read(ALICE, ToolCall("list_pods", {"namespace": "dev"}), pods, Lang.EN)
    assert ok.allowed and ok.rule.startswith("read-all@")
    outside = caller("u1", chat="oc_x", platform=Platform.FEISHU)
    no = await gate.check_read(outside, ToolCall("list_pods", {"namespace": "dev"}), pods, Lang.ZH)
    assert not no.allowed and "这个群没有开通" in no.reason
    secret_tool = type(pods)(name="get_secret", description="", input_schema={}, mutates=False, resource="secrets")
    sec = await gate.check_read(ALICE, ToolCall("get_secret", {"namespace": "dev"}), secret_tool, Lang.EN)
    assert not sec.allowed and sec.rule == "builtin:no-secrets"
    scale_tool = gateway.info("scale_deployment")
    mut = await gate.check_read(ALICE, scale("dev", "x", 1), scale_tool, Lang.EN)
    assert not mut.allowed


async def test_the_audit_card_shows_this_chats_entries_to_allowed_callers_only(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate(
        "version: 1\nroles:\n  op:\n    rules:\n      - verbs: [scale, audit]\n"
        "  viewer:\n    rules:\n      - verbs: ['*', '!audit']\n        risks: [read]\n"
        "bindings:\n  - role: op\n    subjects: [console:alice]\n    chats: ['*']\n"
        "  - role: viewer\n    subjects: ['*']\n    chats: ['*']\n"
    )
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    await click(gate, ALICE, button(card, CONFIRM))
    other_chat = caller("alice", chat="elsewhere")
    await propose(gate, gateway, other_chat, scale("dev", name, before + 2))

    shown = await gate.audit_card(ALICE, 10, Lang.EN)
    text = card_text(shown)
    assert shown.title == "Audit log" and text.count("scale_deployment(") == 3  # propose, confirm, execute
    assert "execute" in text and "executed" in text
    refused = await gate.audit_card(BOB, 10, Lang.EN)
    assert refused.title == "Not allowed" and "scale_deployment" not in card_text(refused)
    one = await gate.audit_card(ALICE, 1, Lang.EN)
    assert "newest 1" in card_text(one)


async def test_a_change_runs_as_the_requesters_mapped_kubernetes_identity_never_the_approvers(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate(
        TWO_APPROVERS.replace("count: 2", "count: 1")
        + "impersonation:\n  - subjects: [console:alice]\n    user: kd:alice\n    groups: [kd:operators]\n"
        + "  - subjects: [console:bob]\n    user: kd:bob\n"
    )
    # the sandbox enforces RBAC: the impersonated group needs the cluster's own right to scale
    sandbox.grant(group="kd:operators", role="edit")
    name, before = deployment(sandbox, "production")
    _, card = await propose(gate, gateway, ALICE, scale("production", name, before + 1))
    await click(gate, BOB, button(card, CONFIRM))
    assert replicas(sandbox, "production", name) == before + 1
    assert gateway.identities == [("scale_deployment", "kd:alice", ("kd:operators",))] * 2


async def test_the_clicker_is_checked_against_the_policy_at_click_time(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, tmp_path: Path
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    # the policy is reloaded meanwhile and alice lost her operator role
    reloaded = tmp_path / "reloaded.yaml"
    reloaded.write_text(
        "version: 1\nroles:\n  viewer:\n    rules:\n      - verbs: ['*']\n        risks: [read]\n"
        "bindings:\n  - role: viewer\n    subjects: ['*']\n    chats: ['*']\n"
    )
    gate.policy = load_policy([reloaded])
    r = await click(gate, ALICE, button(card, CONFIRM))
    assert r.toasts and "missing the permission" in r.toasts[0]
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before


async def test_an_api_error_at_execution_is_shown_on_the_card_and_audited(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store
) -> None:
    gate = make_gate()
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    sandbox.cluster.remove("deployments", "dev", name)  # someone deletes it before the click
    r = await click(gate, ALICE, button(card, CONFIRM))
    failed = r.updates[-1][1]
    assert failed.title.startswith("Failed") and "not found" in card_text(failed).lower()
    row = (await audit_rows(store))[-1]
    assert (row["event"], row["decision"]) == ("execute", "failed") and row["result"].startswith("not_found")
    late = await click(gate, ALICE, button(card, CONFIRM))
    assert late.toasts == ["This change failed; it did not take effect."] and len(gateway.executed) == 1
