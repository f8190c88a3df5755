"""Diagnose an incident: the cluster's workload diagnosis joined with Prometheus, ranked causes with their
evidence and confidence, each cause's runbooks (proposed as buttons), and with an LLM a short summary on top.
A runbook button hands its step to the approval gate (policy, dry-run preview, approval, exactly once).

No LLM needed. Evidence that could not be read is shown as unknown, never as healthy. The pieces:
bot.alerts.evidence (gathering), bot.alerts.causes (ranking, pure), bot.alerts.diagcard (the card, pure),
bot.alerts.summary (the optional LLM summary), bot.alerts.metrics_panel (`/metrics`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from bot.agent.port import Planner
from bot.alerts.causes import Cause, rank
from bot.alerts.diagcard import build_card, top_cause
from bot.alerts.evidence import Evidence, ReadTool, collect, incident_labels
from bot.alerts.followup import Followup
from bot.alerts.incidents import Incident
from bot.alerts.metrics_panel import METRIC_PANELS, metrics_card
from bot.alerts.service import AlertService
from bot.alerts.summary import summarize
from bot.approvals.port import Caller
from bot.core.cards import Card
from bot.core.events import CardActionEvent, InboundEvent
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.tooling.types import ToolCall, ToolOutcome
from tools.prom import PromClient
from tools.runbooks import Runbook, load_runbooks

log = logging.getLogger(__name__)

__all__ = ["METRIC_PANELS", "Diagnoser", "RunbookBook"]


PROPOSAL_SECONDS = 15 * 60  # the gate's approvals expire after this; the follow-up then notes the expiry
_PROPOSAL_ENDS = frozenset({"runbook_executed", "runbook_failed", "runbook_unknown"})


def proposal_pending(inc: Incident, title: str, now: float) -> bool:
    """Whether this runbook was proposed for the incident and is still waiting (not executed, cancelled, expired
    or failed since), per the incident's timeline."""
    for entry in reversed(inc.timeline):
        if entry.detail != title and not entry.detail.startswith((title + "：", title + ": ")):
            continue
        if entry.kind in _PROPOSAL_ENDS:
            return False
        if entry.kind == "runbook_proposed":
            return entry.at > now - PROPOSAL_SECONDS
    return False


class RunbookBook:
    """The shipped runbooks, matched against incidents and diagnosis findings."""

    def __init__(self, books: Sequence[Runbook] | None = None) -> None:
        if books is None:
            books, problems = load_runbooks()
            if problems:  # start-up stops on a bad runbook, with file:line
                raise ValueError("invalid runbooks:\n" + "\n".join(str(p) for p in problems))
        self.books = {b.id: b for b in books}

    def matching(self, inc: Incident, findings: Sequence[str] = ()) -> list[Runbook]:
        labels = incident_labels(inc)
        name = labels.get("alertname", "")
        return [b for b in self.books.values() if b.matches(name, labels, findings) and b.bind(labels)]

    def for_finding(self, finding: str, labels: dict[str, str]) -> list[Runbook]:
        """The runbooks that declare this finding in `match.findings` and can bind their parameters."""
        return [
            b
            for b in self.books.values()
            if finding in b.match.findings
            and all(labels.get(k) == v for k, v in b.match.labels.items())
            and b.bind(labels) is not None
        ]

    def ranked(self, inc: Incident, causes: Sequence[Cause]) -> tuple[dict[str, list[Runbook]], list[Runbook]]:
        """Each cause's runbooks, and all of them in the causes' order (then those matched by the alert's name)."""
        labels = incident_labels(inc)
        per = {c.finding: self.for_finding(c.finding, labels) for c in causes}
        order: list[Runbook] = []
        for c in causes:
            order += [b for b in per[c.finding] if b not in order]
        order += [b for b in self.matching(inc) if b not in order]
        return per, order

    def buttons(self, inc: Incident) -> list[tuple[str, str]]:
        return [(b.id, b.title.zh if inc.lang is Lang.ZH else b.title.en) for b in self.matching(inc)]


class Diagnoser:
    def __init__(
        self,
        *,
        prom: PromClient | None,
        book: RunbookBook,
        gate: Any = None,
        gateway: Any = None,
        toolbox: Any = None,
        planner: Planner | None = None,
        service: AlertService | None = None,
        followup: Followup | None = None,
        tracker: TaskTracker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prom = prom
        self.book = book
        self.gate = gate
        self.gateway = gateway
        self.toolbox = toolbox  # reads as the clicking user, through the policy (preferred over the raw gateway)
        self.planner = planner
        self.service = service
        self.followup = followup
        self.tracker = tracker
        self.clock = clock

    def _reader(self, event: InboundEvent) -> ReadTool | None:
        toolbox, gateway = self.toolbox, self.gateway
        if toolbox is not None and hasattr(toolbox, "read"):
            caller = Caller(event.conversation, event.sender)

            async def read(call: ToolCall, lang: Lang) -> ToolOutcome:
                out: ToolOutcome = await toolbox.read(caller, call, lang)
                return out

            return read
        if gateway is not None and hasattr(gateway, "call"):

            async def raw(call: ToolCall, _lang: Lang) -> ToolOutcome:
                out: ToolOutcome = await gateway.call(call)
                return out

            return raw
        return None

    async def evidence(self, inc: Incident, event: InboundEvent, lang: Lang) -> Evidence:
        return await collect(inc, prom=self.prom, read=self._reader(event), lang=lang, clock=self.clock)

    async def diagnose(self, inc: Incident, event: InboundEvent, lang: Lang) -> tuple[Card, str | None]:
        ev = await self.evidence(inc, event, lang)
        causes = rank(ev, lang)
        per, order = self.book.ranked(inc, causes)
        summary = await summarize(self.planner, ev, causes, lang) if self.planner is not None and causes else None
        return build_card(inc, ev, causes, per, order, lang, summary), top_cause(causes, lang)

    async def propose(
        self, inc: Incident, runbook_id: str, event: CardActionEvent, responder: Responder, lang: Lang
    ) -> None:
        """Hand the runbook's first step to the gate: policy, server-side dry-run preview, approval, exactly once."""
        book = self.book.books.get(runbook_id)
        values = book.bind(incident_labels(inc)) if book is not None else None
        if book is None or values is None:
            await responder.toast(tr(lang, "这个预案不适用于该告警。", "That runbook does not apply to this alert."))
            return
        step = book.steps[0]
        info = self.gateway.info(step.tool) if self.gateway is not None else None
        if info is None or self.gate is None:
            await responder.toast(tr(lang, "预案所需的工具现在不可用。", "The runbook's tool is not available now."))
            return
        title = book.title.zh if lang is Lang.ZH else book.title.en
        if self.service is not None and proposal_pending(inc, title, self.service.clock()):
            # a double click, or a second person: two approvals of one fix would run it twice
            await responder.toast(
                tr(
                    lang,
                    "这个预案已经在等待审批，请在审批卡片上批准或取消。",
                    "This runbook is already waiting for approval: approve or cancel it on its card.",
                )
            )
            return
        call = ToolCall(step.tool, Runbook.fill(step, values))
        await self.gate.propose(Caller(event.conversation, event.sender), call, info, responder, lang)
        if self.service is not None:
            who = event.sender.name or event.sender.user_id

            def proposed(i: Incident) -> bool:
                i.add(self.service.clock() if self.service else 0.0, "runbook_proposed", who=who, detail=title)
                return True

            await self.service.change(inc.id, proposed)
        if self.followup is not None and self.tracker is not None:
            self.tracker.spawn(
                self.followup.follow(inc.id, book, call, values, lang.value), name=f"runbook-followup:{inc.id}"
            )

    async def metrics_card(self, name: str, namespace: str | None, lang: Lang) -> Card:
        """`/metrics <workload> [-n ns]` (bot.alerts.metrics_panel)."""
        return await metrics_card(self.prom, name, namespace, lang)
