"""Honest change records, with faults injected for real between the bot and the sandbox API server (a loopback
TCP proxy that loses the API's answers) and with a record left `executing` by a replica that died.

pending -> approved -> executing -> executed | failed | unknown: a write with no answer is settled by reading
the object back; a card never says "done" or "failed" unless that is what happened, and nothing runs twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.approvals import PolicyGate, build_gate
from bot.approvals.cards import CONFIRM
from bot.approvals.record import APPROVED, EXECUTING, PENDING
from bot.core.actions import Action
from bot.core.i18n import Lang
from bot.settings import Settings
from bot.store import Store
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from bot.tooling.types import ToolCall
from tests.approvals.conftest import (
    DEFAULT_POLICY,
    CountingGateway,
    FakeClock,
    RecordingResponder,
    caller,
    card_text,
)
from tests.approvals.test_flow import button, click, deployment, propose, replicas, scale
from tests.support.tcp_proxy import DROP_RESPONSES, DROP_WRITE_RESPONSES, PASS, TcpProxy
from tools.k8s.client import KubeClients
from tools.sandbox import SandboxHandle, start_sandbox_thread

ALICE = caller("alice", name="Alice")
KUBE_TIMEOUT = 3.0  # the write's answer is "lost" after this long


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    """Plain HTTP here: the proxy must see which requests are writes to lose only their answers."""
    handle = start_sandbox_thread(seed="demo", port=0, tls=False)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def proxy(sandbox: Any) -> AsyncIterator[TcpProxy]:
    host, port = sandbox.url.removeprefix("http://").rsplit(":", 1)
    p = await TcpProxy(host, int(port)).start()
    yield p
    await p.close()


def proxied_kubeconfig(sandbox: Any, port: int, tmp_path: Path) -> Path:
    config = yaml.safe_load(Path(sandbox.kubeconfig_path).read_text())
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    path = tmp_path / "kubeconfig-proxied"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
async def gateway(sandbox: Any, proxy: TcpProxy, tmp_path: Path) -> AsyncIterator[CountingGateway]:
    """The real gateway and kubernetes client, reaching the sandbox through the proxy."""
    path = proxied_kubeconfig(sandbox, proxy.port, tmp_path)
    kube = KubeClients(kubeconfig=str(path), context="sandbox", timeout_seconds=KUBE_TIMEOUT)
    gw = ToolGateway([BuiltinSource(kube)])
    await gw.refresh()
    yield CountingGateway(gw)
    await kube.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate(store: Store, gateway: CountingGateway, clock: FakeClock, tmp_path: Path) -> PolicyGate:
    settings = Settings(
        audit_log_path=str(tmp_path / "audit.jsonl"), approval_ttl_seconds=600, policy_files=[str(DEFAULT_POLICY)]
    )
    return build_gate(settings=settings, store=store, gateway=gateway, clock=clock)


async def click_zh(gate: PolicyGate, action: Action) -> RecordingResponder:
    r = RecordingResponder()
    await gate.on_action(ALICE, action, r, Lang.ZH, "msg-1")
    return r


async def audit_rows(store: Store) -> list[dict[str, str]]:
    return list(reversed(await store.read_stream_tail(store.keys.audit_stream(), 200)))


async def record(store: Store, card: Any) -> dict[str, str]:
    rec = await store.get_record(store.keys.approval(button(card, CONFIRM).args["id"]))
    assert rec is not None
    return rec


async def test_a_write_whose_answer_is_lost_is_read_back_and_shown_as_done_verified(
    gate: PolicyGate, gateway: CountingGateway, proxy: TcpProxy, sandbox: Any, store: Store
) -> None:
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 2))
    proxy.set_mode(DROP_WRITE_RESPONSES)  # the PATCH reaches the server and is applied; its answer is lost
    r = await click(gate, ALICE, button(card, CONFIRM))
    assert proxy.dropped_bytes > 0
    assert replicas(sandbox, "dev", name) == before + 2 and len(gateway.executed) == 1
    shown = r.updates[-1][1]
    assert shown.title.startswith("Done") and "did not answer" in card_text(shown)
    assert "read the object back" in card_text(shown)
    rec = await record(store, card)
    assert rec["status"] == "executed" and rec["verified"] == "1"
    row = (await audit_rows(store))[-1]
    assert (row["event"], row["decision"]) == ("execute", "executed") and "verified by read-back" in row["result"]
    proxy.set_mode(PASS)
    late = await click(gate, ALICE, button(card, CONFIRM))
    assert late.toasts == ["This change has already been run."] and len(gateway.executed) == 1


async def test_a_change_nobody_answered_is_unknown_and_a_later_check_shows_it_did_not_land(
    gate: PolicyGate, gateway: CountingGateway, proxy: TcpProxy, sandbox: Any, store: Store
) -> None:
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1), Lang.ZH)
    proxy.set_mode(DROP_RESPONSES)  # even the read before the write goes unanswered: the write is never sent
    r = await click_zh(gate, button(card, CONFIRM))
    unknown = r.updates[-1][1]
    assert unknown.title.startswith("结果未知") and (await record(store, card))["status"] == "unknown"

    proxy.set_mode(PASS)
    again = await click_zh(gate, button(unknown, CONFIRM))
    shown = again.updates[-1][1]
    # the read-back found the old replica count: "not applied", not "failed with an API error", not "done"
    assert shown.title.startswith("未生效") and "没有生效" in card_text(shown)
    assert "read back" not in card_text(shown)  # no English internals on a Chinese card
    assert replicas(sandbox, "dev", name) == before and len(gateway.executed) == 1
    rec = await record(store, card)
    assert rec["status"] == "failed" and rec["verified"] == "1"


async def test_when_the_write_and_the_read_back_both_go_unanswered_the_change_is_unknown_until_checked_again(
    gate: PolicyGate, gateway: CountingGateway, proxy: TcpProxy, sandbox: Any, store: Store
) -> None:
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1), Lang.ZH)

    proxy.set_mode(DROP_WRITE_RESPONSES)
    proxy.then = DROP_RESPONSES  # the write lands, its answer is lost, and from then on every answer is
    r = await click_zh(gate, button(card, CONFIRM))
    unknown = r.updates[-1][1]
    assert unknown.title.startswith("结果未知") and "read back" not in card_text(unknown)
    assert [b.label for b in unknown.buttons] == ["再检查一次"]
    assert (await record(store, card))["status"] == "unknown"
    assert (await audit_rows(store))[-1]["decision"] == "unknown"

    proxy.set_mode(PASS)
    again = await click_zh(gate, button(unknown, CONFIRM))  # "check again"
    settled = again.updates[-1][1]
    assert settled.title.startswith("已执行") and "确认改动已经生效" in card_text(settled)
    assert (await record(store, card))["status"] == "executed"
    assert len(gateway.executed) == 1 and replicas(sandbox, "dev", name) == before + 1
    assert (await audit_rows(store))[-1]["event"] == "settle"


async def orphan(store: Store, card: Any, clock: FakeClock, status: str) -> None:
    """What a replica SIGKILLed mid-change leaves: the record moved on, the write maybe sent, nobody finishing."""
    key = store.keys.approval(button(card, CONFIRM).args["id"])
    assert await store.transition(key, PENDING, APPROVED, ttl=3600, fields={"approvals": json.dumps(["console:alice"])})
    if status == EXECUTING:
        fields = {"executing_since": repr(clock.now), "executing_by": "console:alice"}
        assert await store.transition(key, APPROVED, EXECUTING, ttl=3600, fields=fields)


@pytest.mark.parametrize("status", [APPROVED, EXECUTING])
async def test_a_change_left_in_flight_by_a_dead_replica_is_never_called_already_run_when_it_was_not(
    gate: PolicyGate, gateway: CountingGateway, sandbox: Any, store: Store, clock: FakeClock, status: str
) -> None:
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 3))
    await orphan(store, card, clock, status)  # it died before the write reached the API

    soon = await click(gate, ALICE, button(card, CONFIRM))
    assert soon.toasts == ["This change is being run right now."]  # its runner might still be on it

    clock.now += 600  # far past any write's duration: the runner is gone
    later = await click(gate, ALICE, button(card, CONFIRM))
    shown = later.updates[-1][1]
    assert shown.title.startswith("Not applied") and "did **not** take effect" in card_text(shown)
    assert "already been run" not in " ".join(later.toasts)
    assert gateway.executed == [] and replicas(sandbox, "dev", name) == before  # read back, never re-run
    assert (await record(store, card))["status"] == "failed"


async def test_a_change_a_dead_replica_did_apply_is_recovered_as_executed(
    gate: PolicyGate, gateway: CountingGateway, sandbox: Any, store: Store, clock: FakeClock
) -> None:
    name, before = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, before + 1))
    await orphan(store, card, clock, EXECUTING)
    # the dead replica's write had landed
    await gateway.inner.call(
        ToolCall("scale_deployment", {"namespace": "dev", "deployment": name, "replicas": before + 1})
    )
    clock.now += 600
    r = await click(gate, ALICE, button(card, CONFIRM))
    shown = r.updates[-1][1]
    assert shown.title.startswith("Done") and "change is in effect" in card_text(shown)
    assert gateway.executed == [] and (await record(store, card))["status"] == "executed"
