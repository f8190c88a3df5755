"""After a runbook is proposed: watch the gate's audit trail for its execution (approved by whom, or cancelled,
expired, failed), then verify the fix with the runbook's PromQL condition, writing each step into the
incident's timeline and cards. Runs in the replica that proposed it, as a tracked task; if that replica dies
the gate still executes exactly once, only the follow-up lines are missing."""

from __future__ import annotations

import asyncio
import logging
import operator
import time
from collections.abc import Callable
from typing import Any

from bot.alerts.incidents import Incident
from bot.alerts.service import AlertService
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
    ) -> None:
        self.service = service
        self.store = store
        self.prom = prom
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
            await asyncio.sleep(self.poll_seconds)
        return None

    async def follow(self, incident_id: str, book: Runbook, call: ToolCall, values: dict[str, str], lang: str) -> None:
        title = book.title.zh if lang == "zh" else book.title.en
        row = await self._execution(call)
        if row is None:
            await self._note(incident_id, "runbook_unknown", detail=title)
            return
        event, decision = row.get("event", ""), row.get("decision", "")
        approvers = row.get("approvers", "") or row.get("user", "")
        if event != "execute" or decision != "executed":
            await self._note(incident_id, "runbook_failed", who=approvers, detail=f"{title}: {event} {decision}")
            return
        await self._note(incident_id, "runbook_executed", who=approvers, detail=title, action=f"{title} ({approvers})")
        await self.verify(incident_id, book, values)

    async def verify(self, incident_id: str, book: Runbook, values: dict[str, str]) -> None:
        if not book.verify.promql:
            return
        if self.prom is None:
            await self._note(incident_id, "verify_unknown", detail="no PROMETHEUS_URL")
            return
        expr = book.verify.promql
        for name, value in values.items():
            # label values go inside quoted PromQL strings: escape so a value cannot end the string
            expr = expr.replace("{" + name + "}", value.replace("\\", "\\\\").replace('"', '\\"'))
        deadline = self.clock() + book.verify.timeout_seconds
        last = "no data"
        while self.clock() < deadline:
            result = await self.prom.query(expr)
            if result.ok and result.first is not None:
                last = f"{result.first:g}"
                if holds(book.verify.condition, result.first):
                    await self._note(incident_id, "verified", detail=f"{last} {book.verify.condition}")
                    return
            elif not result.ok:
                last = result.error[:100]
            await asyncio.sleep(max(self.poll_seconds, 1.0))
        # not "failed": the metric did not confirm in time, which may still change
        await self._note(incident_id, "verify_timeout", detail=f"{last} (want {book.verify.condition})")
