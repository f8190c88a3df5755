"""A change whose server-side dry run shows no difference: "nothing to change", no approval, audited."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import Lang
from bot.store import Store
from bot.tooling.types import ToolCall
from tests.approvals.conftest import CountingGateway, GateFactory, RecordingResponder, caller, card_text
from tests.approvals.test_flow import audit_rows, deployment, propose, replicas, scale

ALICE = caller("alice", name="Alice")


def _container(sandbox: Any, ns: str, name: str) -> dict[str, Any]:
    d = sandbox.cluster.get("deployments", ns, name)
    c: dict[str, Any] = d["spec"]["template"]["spec"]["containers"][0]
    return c


async def test_scaling_to_the_current_replicas_answers_nothing_to_change_without_an_approval(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any, store: Store
) -> None:
    gate = make_gate()
    name, now = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, now))
    text = card_text(card)
    assert card.buttons == (), text  # no Confirm / Approve to click
    assert "Nothing to change" in text and f"replicas={now}" in text and name in text
    assert gateway.executed == [] and len(gateway.dry_runs) == 1 and replicas(sandbox, "dev", name) == now
    rows = await audit_rows(store)
    assert [x["event"] for x in rows] == ["propose"]  # audited as a decision
    assert rows[0]["result"].startswith("no change (dry run)") and rows[0]["decision"]


async def test_setting_a_memory_limit_to_its_current_value_says_so_in_chinese(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate()
    name, _ = deployment(sandbox, "dev")
    c = _container(sandbox, "dev", name)
    limit = c["resources"]["limits"]["memory"]
    call = ToolCall(
        "set_container_resources",
        {"namespace": "dev", "deployment": name, "container": c["name"], "memory_limit": limit},
    )
    _, card = await propose(gate, gateway, ALICE, call, Lang.ZH)
    text = card_text(card)
    assert card.buttons == () and "无需改动" in text and f"limits.memory={limit}" in text, text
    assert gateway.executed == []


async def test_a_real_change_or_a_restart_still_asks_for_confirmation(
    make_gate: GateFactory, gateway: CountingGateway, sandbox: Any
) -> None:
    gate = make_gate()
    name, now = deployment(sandbox, "dev")
    _, card = await propose(gate, gateway, ALICE, scale("dev", name, now + 1))
    assert card.buttons and "Nothing to change" not in card_text(card)
    r = RecordingResponder()
    restart = ToolCall("restart_deployment", {"namespace": "dev", "deployment": name})
    await gate.propose(ALICE, restart, gateway.info("restart_deployment"), r, Lang.EN)
    assert r.sent and r.sent[-1][1].buttons and "Nothing to change" not in card_text(r.sent[-1][1])
