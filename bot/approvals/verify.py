"""Did a change take effect? Read the object back and decide, instead of guessing from a lost answer.

Used when a write got no answer (timeout, connection lost) and when a record was left `executing` by a replica
that died. One entry per mutating tool, declared as data: which read tool to call, with which arguments, and
how to judge its answer against the stored call (and the dry-run preview taken before it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bot.approvals.record import ApprovalRecord
from bot.tooling.types import ToolCall, ToolOutcome


class Effect(StrEnum):
    APPLIED = "applied"  # the object shows the change
    NOT_APPLIED = "not_applied"  # the object shows the state before it
    UNDECIDED = "undecided"  # could not read it back, or it cannot tell (no read tool, ambiguous)


@dataclass(frozen=True, slots=True)
class Finding:
    effect: Effect
    evidence: str  # what was read, in English for the audit (the card words it per language)


class Reader(Protocol):
    async def call(self, call: ToolCall) -> ToolOutcome: ...


Judge = Callable[[ApprovalRecord, dict[str, Any], float], Finding]


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    items = data.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _before(rec: ApprovalRecord, field: str) -> str | None:
    before = (rec.preview or {}).get("before")
    value = before.get(field) if isinstance(before, dict) else None
    return None if value is None else str(value)


def _judge_scale(rec: ApprovalRecord, data: dict[str, Any], _elapsed: float) -> Finding:
    name, want = rec.call.args.get("deployment"), rec.call.args.get("replicas")
    for item in _items(data):
        if item.get("name") == name:
            got = item.get("desired")
            if got == want:
                return Finding(Effect.APPLIED, f"spec.replicas is {got}")
            return Finding(Effect.NOT_APPLIED, f"spec.replicas is {got}, not {want}")
    return Finding(Effect.UNDECIDED, f"deployment {name} not listed")


def _judge_revision(rec: ApprovalRecord, data: dict[str, Any], _elapsed: float) -> Finding:
    """restart and rollback both start a new revision of the deployment."""
    name, before = rec.call.args.get("deployment"), _before(rec, "revision")
    for item in _items(data):
        if item.get("name") == name:
            rev = item.get("revision")
            if before is None or rev is None:
                return Finding(Effect.UNDECIDED, f"revision {rev}, revision before unknown")
            if str(rev) != before:
                return Finding(Effect.APPLIED, f"revision {before} -> {rev}")
            return Finding(Effect.NOT_APPLIED, f"revision still {rev}")
    return Finding(Effect.UNDECIDED, f"deployment {name} not listed")


def _judge_cordon(value: bool) -> Judge:
    def judge(rec: ApprovalRecord, data: dict[str, Any], _elapsed: float) -> Finding:
        name = rec.call.args.get("node")
        for item in _items(data):
            if item.get("name") == name:
                flag = bool(item.get("unschedulable"))
                effect = Effect.APPLIED if flag == value else Effect.NOT_APPLIED
                return Finding(effect, f"spec.unschedulable is {str(flag).lower()}")
        return Finding(Effect.UNDECIDED, f"node {name} not listed")

    return judge


def _judge_pod_gone(rec: ApprovalRecord, data: dict[str, Any], elapsed: float) -> Finding:
    age = data.get("start_seconds_ago")
    if isinstance(age, int) and age < elapsed:
        return Finding(Effect.APPLIED, f"pod recreated {age}s ago")
    # still there with its old start time: not deleted yet, or terminating in its grace period
    return Finding(Effect.UNDECIDED, "pod still present")


@dataclass(frozen=True, slots=True)
class Check:
    read_tool: str
    args: Callable[[dict[str, Any]], dict[str, Any]]
    judge: Judge
    gone_means_applied: bool = False  # a not_found answer proves the change (delete)


def _ns(a: dict[str, Any]) -> dict[str, Any]:
    return {"namespace": a.get("namespace"), **({"cluster": a["cluster"]} if a.get("cluster") else {})}


def _cluster(a: dict[str, Any]) -> dict[str, Any]:
    return {"cluster": a["cluster"]} if a.get("cluster") else {}


CHECKS: dict[str, Check] = {
    "scale_deployment": Check("list_deployments", _ns, _judge_scale),
    "restart_deployment": Check("list_deployments", _ns, _judge_revision),
    "rollback_deployment": Check("list_deployments", _ns, _judge_revision),
    "delete_pod": Check(
        "describe_pod", lambda a: {**_ns(a), "pod": a.get("pod")}, _judge_pod_gone, gone_means_applied=True
    ),
    "cordon_node": Check("list_nodes", _cluster, _judge_cordon(True)),
    "uncordon_node": Check("list_nodes", _cluster, _judge_cordon(False)),
}


async def read_back(reader: Reader, rec: ApprovalRecord, elapsed: float) -> Finding:
    """Read the object the stored call changed and judge whether the change is there (`elapsed`: seconds since
    the write was sent). Never raises."""
    check = CHECKS.get(rec.call.tool)
    if check is None:
        return Finding(Effect.UNDECIDED, f"no read-back known for {rec.call.tool}")
    try:
        out = await reader.call(ToolCall(check.read_tool, check.args(rec.call.args)))
    except Exception as exc:  # noqa: BLE001 - a failed read decides nothing; the record stays unknown
        return Finding(Effect.UNDECIDED, f"read-back failed: {type(exc).__name__}")
    if not out.ok:
        if out.error_code == "not_found" and check.gone_means_applied:
            return Finding(Effect.APPLIED, "object is gone")
        return Finding(Effect.UNDECIDED, f"read-back failed: {out.error_code}")
    return check.judge(rec, out.data or {}, elapsed)
