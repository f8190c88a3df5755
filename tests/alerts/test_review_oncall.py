"""Found by using the on-call loop the way an on-call engineer does (double clicks, an old card clicked after the
alert resolved, Alertmanager down, an older revision failing differently) — each test failed before its fix."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.actions import AlertActions
from bot.alerts.cards import OP_CLAIM, OP_RUNBOOK, OP_SILENCE
from bot.alerts.causes import rank
from bot.alerts.diagnosis import Diagnoser, RunbookBook
from bot.alerts.evidence import ClusterFacts, Evidence, Target
from bot.alerts.followup import Followup
from bot.alerts.model import WebhookPayload
from bot.alerts.receiver import Receiver
from bot.alerts.service import AlertService
from bot.alerts.silences import Silencer
from bot.approvals import Caller, build_gate
from bot.core.actions import Action, ActionCodec
from bot.core.events import CardActionEvent, Conversation, InboundEvent, Platform, Sender
from bot.core.i18n import Lang
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.policy import load_policy
from bot.policy.engine import decide
from bot.policy.model import CallFacts, Effect
from bot.settings import REPO_ROOT, Settings
from bot.store import Store
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from tests.alerts.helpers import AUTH, RecordingOutbox, alert, card_text, payload
from tests.alerts.test_receiver import post
from tests.support.prom import Server, start_alertmanager
from tools.k8s.client import KubeClients
from tools.k8s.models import Finding, WorkloadHealth

CHAT = Conversation(Platform.FEISHU, "oc-oncall", is_group=True)
DEFAULT_POLICY = REPO_ROOT / "policies" / "default.yaml"


class Passed:
    async def __call__(self, event: InboundEvent, responder: Responder) -> None:
        raise AssertionError(f"an alert button reached the engine: {event}")


def click(codec: ActionCodec, action: Action, user: str, ref: str, n: int = 0) -> CardActionEvent:
    return CardActionEvent(
        event_id=f"click-{user}-{action.op}-{n}",
        conversation=CHAT,
        sender=Sender(user, name=user.title()),
        payload=codec.encode(action, CHAT.chat_key),
        message_ref=ref,
    )


def anyone(who: str, chat: str, verb: str, namespace: str, lang: Lang) -> str | None:
    return None


@pytest.fixture
def codec() -> ActionCodec:
    return ActionCodec("review-oncall-secret", 600)


@pytest.fixture
def alertmanager() -> Iterator[Server]:
    am = start_alertmanager('route: {receiver: "null"}\nreceivers: [{name: "null"}]\n')
    yield am
    am.stop()


def _silences(am: Server) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{am.url}/api/v2/silences", timeout=30) as resp:
        return [s for s in json.loads(resp.read()) if s["status"]["state"] == "active"]


async def _open(service: AlertService, outbox: RecordingOutbox) -> tuple[str, str]:
    firing = alert(deployment="orders", container="orders")
    receipt = await service.receive(WebhookPayload.model_validate(payload([firing])))
    assert receipt.incident_id is not None
    ref = next(s.ref for s in outbox.sent if s.chat == CHAT.chat_key)
    return receipt.incident_id, ref


async def test_an_old_alert_card_clicked_after_the_resolve_claims_silences_and_fixes_nothing(
    service: AlertService, outbox: RecordingOutbox, codec: ActionCodec, alertmanager: Server
) -> None:
    inc_id, ref = await _open(service, outbox)
    resolved = alert(deployment="orders", container="orders", status="resolved")
    await service.receive(WebhookPayload.model_validate(payload([resolved])))
    before = await service.incidents.get(inc_id)
    assert before is not None and before.resolved
    handler = AlertActions(
        service=service, codec=codec, inner=Passed(), permit=anyone, silencer=Silencer(alertmanager.url)
    )
    responder = outbox.responder(CHAT.chat_key, Lang.ZH)
    for n, action in enumerate(
        [Action(OP_CLAIM, {"i": inc_id}), Action(OP_SILENCE, {"i": inc_id, "h": 1}), Action(OP_RUNBOOK, {"i": inc_id})]
    ):
        await handler(click(codec, action, "alice", ref, n), responder)
        assert outbox.toasts[-1][1] == "这个告警已经恢复，不需要再处理。"
    after = await service.incidents.get(inc_id)
    assert after is not None and after.claimed_by is None and after.silence_id is None
    assert [e.kind for e in after.timeline] == [e.kind for e in before.timeline]
    assert _silences(alertmanager) == []
    assert "已恢复" in card_text(next(s for s in outbox.sent if s.ref == ref).latest)


async def test_a_double_click_on_silence_makes_one_silence_that_unsilence_removes(
    service: AlertService, outbox: RecordingOutbox, codec: ActionCodec, alertmanager: Server
) -> None:
    inc_id, ref = await _open(service, outbox)
    handler = AlertActions(
        service=service, codec=codec, inner=Passed(), permit=anyone, silencer=Silencer(alertmanager.url)
    )
    responder = outbox.responder(CHAT.chat_key, Lang.ZH)
    await handler(click(codec, Action(OP_SILENCE, {"i": inc_id, "h": 1}), "alice", ref, 1), responder)
    await handler(click(codec, Action(OP_SILENCE, {"i": inc_id, "h": 4}), "bob", ref, 2), responder)
    assert len(_silences(alertmanager)) == 1
    assert outbox.toasts[-1][1].startswith("已经静默到 ")
    inc = await service.incidents.get(inc_id)
    assert inc is not None and [e.kind for e in inc.timeline].count("silenced") == 1


async def test_alertmanager_down_is_told_in_the_users_language_without_its_english_error(
    service: AlertService, outbox: RecordingOutbox, codec: ActionCodec
) -> None:
    inc_id, ref = await _open(service, outbox)
    handler = AlertActions(
        service=service, codec=codec, inner=Passed(), permit=anyone, silencer=Silencer("http://127.0.0.1:9")
    )
    await handler(click(codec, Action(OP_SILENCE, {"i": inc_id, "h": 1}), "alice", ref), outbox.responder("c", Lang.ZH))
    assert outbox.toasts[-1][1] == "静默失败：无法连接 Alertmanager。"


@pytest.fixture
async def tools_gateway(sandbox: Any) -> AsyncIterator[ToolGateway]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=10.0)
    gw = ToolGateway([BuiltinSource(kube)])
    await gw.refresh()
    yield gw
    await kube.close()


async def test_a_double_click_on_a_runbook_button_opens_one_approval_not_two(
    service: AlertService,
    outbox: RecordingOutbox,
    codec: ActionCodec,
    store: Store,
    tools_gateway: ToolGateway,
    tmp_path: Path,
) -> None:
    inc_id, ref = await _open(service, outbox)
    settings = Settings(audit_log_path=str(tmp_path / "audit.jsonl"), policy_files=[str(DEFAULT_POLICY)])
    gate = build_gate(settings=settings, store=store, gateway=tools_gateway, codec=codec)
    diagnoser = Diagnoser(prom=None, book=RunbookBook(), gate=gate, gateway=tools_gateway, service=service)
    handler = AlertActions(service=service, codec=codec, inner=Passed(), propose=diagnoser.propose)
    # the demo's console user may change things (an operator would be the same)
    chat = Conversation(Platform.CONSOLE, "console", is_group=False)
    responder = outbox.responder(chat.chat_key, Lang.ZH)
    run = Action(OP_RUNBOOK, {"i": inc_id, "r": "oom-raise-memory"})
    for n in (1, 2):
        event = CardActionEvent(f"rb-{n}", chat, Sender("alice", "Alice"), codec.encode(run, chat.chat_key), ref)
        await handler(event, responder)
    approvals = [s for s in outbox.in_chat(chat.chat_key) if "批准并执行" in [b.label for b in s.card.buttons]]
    assert len(approvals) == 1, [card_text(s.card) for s in outbox.in_chat(chat.chat_key)]
    assert outbox.toasts[-1][1] == "这个预案已经在等待审批，请在审批卡片上批准或取消。"
    inc = await service.incidents.get(inc_id)
    assert inc is not None and [e.kind for e in inc.timeline].count("runbook_proposed") == 1


def test_a_crash_looping_pod_is_not_hidden_behind_an_older_revisions_oom() -> None:
    """The alert is about the new revision's pod; the deployment's older pod is OOM-killed (the demo's seed)."""
    health = WorkloadHealth(
        namespace="production",
        name="orders",
        deployments=[],
        pods=[],
        events=[],
        healthy=False,
        findings=[
            Finding(kind="Pod", name="orders-aaa11-old01", problem="OOMKilled", detail="OOMKilled", detail_zh="被杀"),
            Finding(kind="Pod", name="orders-bbb22-new01", problem="CrashLoopBackOff", detail="back-off"),
        ],
        logs={
            "orders-aaa11-old01/orders (previous)": ["WARN memory usage 255Mi of 256Mi limit"],
            "orders-bbb22-new01/orders (previous)": ["panic: missing config key db.url"],
        },
    )
    labels = {"namespace": "production", "deployment": "orders", "pod": "orders-bbb22-new01"}
    ev = Evidence(Target.of(labels), labels, "KubePodCrashLooping", None, 0.0, None, ClusterFacts(health=health))
    causes = rank(ev, Lang.ZH)
    assert [c.finding for c in causes] == ["CrashLoopBackOff", "OOMKilled"]
    assert any("panic: missing config key" in line for line in causes[0].evidence)
    assert not any("panic" in line for line in causes[1].evidence), "each cause quotes its own pod's log"


def test_the_demo_user_may_run_runbook_remedies_and_silence_but_nothing_beyond_and_production_needs_approval() -> None:
    policy = load_policy([DEFAULT_POLICY])

    def effect(verb: str, resource: str, namespace: str) -> Effect:
        facts = CallFacts(tool="t", verb=verb, resource=resource, namespace=namespace, risk="medium", mutates=True)
        return decide(policy, "console:alice", "console:console", facts).effect

    assert effect("update", "deployments", "dev") is Effect.ALLOW
    assert effect("update", "deployments", "production") is Effect.APPROVAL
    # a silence is reversible and takes no approval round (bot.alerts.factory.policy_permit), but needs the grant
    assert effect("silence", "alerts", "production") is not Effect.DENY
    assert effect("update", "configmaps", "dev") is Effect.DENY
    assert effect("silence", "deployments", "dev") is Effect.DENY
    # nobody outside the console gets the demo's rights
    facts = CallFacts(tool="t", verb="update", resource="deployments", namespace="dev", risk="medium", mutates=True)
    assert decide(policy, "feishu:ou_x", "feishu:oc_y", facts).effect is Effect.DENY


async def test_a_cancelled_runbook_is_noted_in_chinese_and_can_be_proposed_again(
    service: AlertService,
    outbox: RecordingOutbox,
    codec: ActionCodec,
    store: Store,
    tools_gateway: ToolGateway,
    tracker: TaskTracker,
    tmp_path: Path,
) -> None:
    inc_id, ref = await _open(service, outbox)
    settings = Settings(audit_log_path=str(tmp_path / "audit.jsonl"), policy_files=[str(DEFAULT_POLICY)])
    gate = build_gate(settings=settings, store=store, gateway=tools_gateway, codec=codec)
    followup = Followup(service=service, store=store, prom=None, gateway=tools_gateway, poll_seconds=0.2)
    diagnoser = Diagnoser(
        prom=None,
        book=RunbookBook(),
        gate=gate,
        gateway=tools_gateway,
        service=service,
        followup=followup,
        tracker=tracker,
    )
    handler = AlertActions(service=service, codec=codec, inner=Passed(), propose=diagnoser.propose)
    chat = Conversation(Platform.CONSOLE, "console", is_group=False)
    responder = outbox.responder(chat.chat_key, Lang.ZH)
    run = Action(OP_RUNBOOK, {"i": inc_id, "r": "oom-raise-memory"})

    def approval_cards() -> list[Any]:
        return [s for s in outbox.in_chat(chat.chat_key) if "批准并执行" in [b.label for b in s.card.buttons]]

    await handler(
        CardActionEvent("rb-1", chat, Sender("alice", "Alice"), codec.encode(run, chat.chat_key), ref), responder
    )
    (first,) = approval_cards()
    cancel = next(b.action for b in first.card.buttons if b.label == "取消")
    await gate.on_action(Caller(chat, Sender("alice", "Alice")), cancel, responder, Lang.ZH, first.ref)

    async def noted() -> list[str]:
        inc = await service.incidents.get(inc_id)
        assert inc is not None
        return [e.detail for e in inc.timeline if e.kind == "runbook_failed"]

    for _ in range(600):  # the follow-up polls the audit trail; generous on a loaded machine
        if await noted():
            break
        await asyncio.sleep(0.1)
    assert await noted() == ["内存不足：调高内存上限：已取消"]
    await handler(
        CardActionEvent("rb-2", chat, Sender("alice", "Alice"), codec.encode(run, chat.chat_key), ref), responder
    )
    assert len(approval_cards()) == 2, "after the cancel the runbook can be proposed again"


async def test_a_webhook_body_nested_too_deep_gets_400_not_a_server_error(
    receiver: Receiver, outbox: RecordingOutbox, service: AlertService
) -> None:
    status, answer = await post(receiver.url, b"[" * 100_000, AUTH)
    assert status == 400 and answer == {"error": "body is not JSON"}
    assert outbox.sent == [] and await service.incidents.recent(5) == []


async def test_the_card_says_which_platform_was_notified_not_the_chats_internal_id(
    service: AlertService, outbox: RecordingOutbox
) -> None:
    inc_id, _ = await _open(service, outbox)
    inc = await service.incidents.get(inc_id)
    assert inc is not None and "feishu:oc-oncall" in [e.detail for e in inc.timeline], "the record keeps the chat"
    zh = card_text(service.render(inc))
    assert "已通知 · 飞书群" in zh and "已通知 · 钉钉群" in zh
    assert "feishu:oc-oncall" not in zh and "dingtalk:cid-oncall" not in zh


def test_a_runbook_proposal_waits_until_it_is_executed_cancelled_or_its_approval_has_expired() -> None:
    from bot.alerts.diagnosis import PROPOSAL_SECONDS, proposal_pending
    from bot.alerts.incidents import Incident

    inc = Incident(id="INC-P", group_key="g", opened_at=0.0)
    inc.add(100.0, "runbook_proposed", who="Alice", detail="Raise the memory limit")
    assert proposal_pending(inc, "Raise the memory limit", 110.0)
    assert not proposal_pending(inc, "Roll back", 110.0), "another runbook is not held up"
    assert not proposal_pending(inc, "Raise the memory limit", 100.0 + PROPOSAL_SECONDS + 1)
    inc.add(120.0, "runbook_failed", detail="Raise the memory limit: cancelled")
    assert not proposal_pending(inc, "Raise the memory limit", 130.0)
    inc.add(140.0, "runbook_proposed", who="Alice", detail="Raise the memory limit")
    inc.add(150.0, "runbook_executed", who="Bob", detail="Raise the memory limit")
    assert not proposal_pending(inc, "Raise the memory limit", 160.0)
