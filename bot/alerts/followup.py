"""After a runbook is proposed: watch the gate's audit trail for its execution (approved by whom, or cancelled,
expired, failed), then verify the fix with the runbook's PromQL condition, writing each step into the
incident's timeline and cards (without Prometheus: the runbook's workload healthy in the cluster, see
bot.alerts.clustercheck). Runs in the replica that proposed it, as a tracked task; if that replica dies
the gate still executes exactly once, only the follow-up lines are missing."""

from __future__ import annotations

import asyncio
import logging
import operator
import time
from collections.abc import Callable
from typing import Any

from bot.alerts.clustercheck import verify_on_cluster
from bot.alerts.incidents import Incident
from bot.alerts.service import AlertService
from bot.conversation.toolbox import Gateway
from bot.core.i18n import Lang
from bot.render.names import display
from bot.store import Store
from bot.tooling.types import ToolCall
from tools.prom import PromClient
from tools.runbooks import Runbook

log = logging.getLogger(__name__)

_OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
AUDIT_SCAN = 300  # newest audit entries looked at per poll


def holds(condition: str, value: float) -> bool:
    op, _, number = condition.partition(" ")
    return _OPS[op](value, float(number))


# why a proposed runbook did not run, from the gate's audit event (zh, en)
_NOT_EXECUTED: dict[str, tuple[str, str]] = {
    "cancel": ("已取消", "cancelled"),
    "expire": ("审批已过期", "the approval expired"),
    "tamper": ("调用与审批不符，已拒绝", "refused: the call did not match the approval"),
    "dry_run": ("预演失败，未提交审批", "the dry run failed; nothing was sent for approval"),
    "execute": ("执行失败", "execution failed"),
}


class Followup:
    def __init__(
        self,
        *,
        service: AlertService,
        store: Store,
        prom: PromClient | None,
        wait_seconds: float = 15 * 60,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        gateway: Gateway | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.prom = prom
        self.gateway = gateway  # reads the cluster when there is no Prometheus to verify with
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.clock = clock

    async def _note(self, incident_id: str, kind: str, who: str = "", detail: str = "", **changes: Any) -> None:
        def mutate(inc: Incident) -> bool:
            inc.add(self.service.clock(), kind, who=who, detail=detail)
            for key, value in changes.items():
                if key == "action":
                    inc.actions = [*inc.actions, str(value)][-20:]
                else:
                    setattr(inc, key, value)
            return True

        await self.service.change(incident_id, mutate)

    async def _proposal_hash(self, call: ToolCall) -> str | None:
        """The hash the gate bound the approval to: its stored call pins the cluster and turns dry-run off, so it
        is read back from the gate's own `propose` audit entry rather than recomputed here."""
        wanted = [f"{k}={v}" for k, v in call.args.items() if k != "dry_run"]
        rows = await self.store.read_stream_tail(self.store.keys.audit_stream(), AUDIT_SCAN)
        for row in rows:  # newest first
            request = row.get("request", "")
            if row.get("event") == "propose" and request.startswith(call.tool) and all(w in request for w in wanted):
                return row.get("call_hash") or None
        return None

    async def _execution(self, call: ToolCall) -> dict[str, str] | None:
        digest = await self._proposal_hash(call)
        if digest is None:
            return None
        deadline = self.clock() + self.wait_seconds
        while self.clock() < deadline:
            rows = await self.store.read_stream_tail(self.store.keys.audit_stream(), AUDIT_SCAN)
            for row in rows:
                if row.get("call_hash") == digest and row.get("event") in ("execute", "cancel", "expire", "tamper"):
                    return row
                if row.get("call_hash") == digest and row.get("result", "").startswith("dry run failed"):
                    return {"event": "dry_run", "decision": "failed"}  # no approval was opened: nothing to wait for
            await asyncio.sleep(self.poll_seconds)
        return None

    async def follow(self, incident_id: str, book: Runbook, call: ToolCall, values: dict[str, str], lang: str) -> None:
        title = book.title.zh if lang == "zh" else book.title.en
        row = await self._execution(call)
        if row is None:
            await self._note(incident_id, "runbook_unknown", detail=title)
            return
        event, decision = row.get("event", ""), row.get("decision", "")
        raw = row.get("approvers", "") or row.get("user", "")
        approvers = ", ".join(display(s.strip()) for s in raw.split(",") if s.strip())  # names, not subjects
        if event != "execute" or decision != "executed":
            why = _NOT_EXECUTED.get(event, _NOT_EXECUTED["execute"])
            log.info("alerts: runbook %s for %s not executed: %s %s", book.id, incident_id, event, decision)
            said = f"{title}：{why[0]}" if lang == "zh" else f"{title}: {why[1]}"
            await self._note(incident_id, "runbook_failed", who=approvers, detail=said)
            return
        done = f"{title}（{approvers}）" if lang == "zh" else f"{title} ({approvers})"
        await self._note(incident_id, "runbook_executed", who=approvers, detail=title, action=done)
        await self.verify(incident_id, book, values, lang)

    async def verify(self, incident_id: str, book: Runbook, values: dict[str, str], lang: str = "zh") -> None:
        if self.prom is None:
            # no metrics: the runbook's cluster condition (its workload healthy again), said so on the card
            await verify_on_cluster(self, incident_id, book, values, Lang(lang) if lang in ("zh", "en") else Lang.ZH)
            return
        if not book.verify.promql:
            return
        expr = book.verify.promql
        for name, value in values.items():
            # label values go inside quoted PromQL strings: escape so a value cannot end the string
            expr = expr.replace("{" + name + "}", value.replace("\\", "\\\\").replace('"', '\\"'))
        deadline = self.clock() + book.verify.timeout_seconds
        last, value = "no data", ""  # `last` for the log (may be Prometheus' English error), `value` for the card
        while self.clock() < deadline:
            result = await self.prom.query(expr)
            if result.ok and result.first is not None:
                last = value = f"{result.first:g}"
                if holds(book.verify.condition, result.first):
                    await self._note(incident_id, "verified", detail=f"{last} {book.verify.condition}")
                    return
            elif not result.ok:
                last = result.error[:100]
            await asyncio.sleep(max(self.poll_seconds, 1.0))
        # not "failed": the metric did not confirm in time, which may still change
        log.info("alerts: %s not verified: %s (want %s)", incident_id, last, book.verify.condition)
        want = book.verify.condition
        if lang == "zh":
            detail = f"最新值 {value}，期望 {want}" if value else f"没有可用的数据，期望 {want}"
        else:
            detail = f"{value} (want {want})" if value else f"no data (want {want})"
        await self._note(incident_id, "verify_timeout", detail=detail)
