"""Diagnose with metrics: PromQL evidence for an incident's workload, ranked causes, the matching runbooks
proposed as buttons; a runbook button hands its step to the approval gate (policy, dry-run preview, approval).

No LLM needed. Evidence that could not be read is shown as unknown, never as healthy.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.alerts.cards import OP_RUNBOOK
from bot.alerts.followup import Followup
from bot.alerts.incidents import Incident
from bot.alerts.service import AlertService
from bot.approvals.port import Caller
from bot.core.actions import Action
from bot.core.cards import Button, ButtonStyle, Card, Code, Fields, Markdown, Note, Tone
from bot.core.events import CardActionEvent, InboundEvent
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.tooling.types import ToolCall
from tools.prom import PromClient, QueryResult, sparkline
from tools.runbooks import Runbook, load_runbooks

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # DNS-1123: also keeps user text out of the PromQL
# /metrics panels, declared once: (zh, en, PromQL over the workload's pods `{sel}` / its service `{svc}`, scale)
METRIC_PANELS: tuple[tuple[str, str, str, float], ...] = (
    ("CPU（核）", "CPU (cores)", "sum(rate(container_cpu_usage_seconds_total{{{sel}}}[5m]))", 1.0),
    ("内存（MiB）", "Memory (MiB)", "sum(container_memory_working_set_bytes{{{sel}}})", 1 / 2**20),
    ("重启次数", "Restarts", "sum(kube_pod_container_status_restarts_total{{{sel}}})", 1.0),
    (
        "5xx 错误率（%）",
        "5xx errors (%)",
        'sum(rate(http_requests_total{{{svc},code=~"5.."}}[5m])) / sum(rate(http_requests_total{{{svc}}}[5m]))',
        100.0,
    ),
)


def _labels(inc: Incident) -> dict[str, str]:
    first = next(iter(inc.alerts.values())).labels if inc.alerts else {}
    return {**first, **inc.common_labels}


def _alertname(inc: Incident) -> str:
    return _labels(inc).get("alertname", "")


@dataclass(frozen=True, slots=True)
class Cause:
    score: int
    zh: str
    en: str
    evidence: str


class RunbookBook:
    """The shipped runbooks, matched against incidents."""

    def __init__(self, books: Sequence[Runbook] | None = None) -> None:
        if books is None:
            books, problems = load_runbooks()
            if problems:  # start-up stops on a bad runbook, with file:line
                raise ValueError("invalid runbooks:\n" + "\n".join(str(p) for p in problems))
        self.books = {b.id: b for b in books}

    def matching(self, inc: Incident, findings: Sequence[str] = ()) -> list[Runbook]:
        labels = _labels(inc)
        return [b for b in self.books.values() if b.matches(_alertname(inc), labels, findings) and b.bind(labels)]

    def buttons(self, inc: Incident) -> list[tuple[str, str]]:
        return [(b.id, b.title.zh if inc.lang is Lang.ZH else b.title.en) for b in self.matching(inc)]


def _fmt(q: QueryResult, lang: Lang, pct: bool = False) -> str:
    if not q.ok:
        return tr(lang, "未知（查询失败）", "unknown (query failed)")
    if q.first is None:
        return tr(lang, "无数据", "no data")
    return f"{q.first * 100:.0f}%" if pct else f"{q.first:.0f}"


class Diagnoser:
    def __init__(
        self,
        *,
        prom: PromClient | None,
        book: RunbookBook,
        gate: Any = None,
        gateway: Any = None,
        service: AlertService | None = None,
        followup: Followup | None = None,
        tracker: TaskTracker | None = None,
    ) -> None:
        self.prom = prom
        self.book = book
        self.gate = gate
        self.gateway = gateway
        self.service = service
        self.followup = followup
        self.tracker = tracker

    async def queries(self, inc: Incident) -> dict[str, QueryResult]:
        labels = _labels(inc)
        ns = labels.get("namespace", "")
        dep = labels.get("deployment") or labels.get("service") or ""
        sel = f'namespace="{ns}",pod=~"{dep}-.*"' if dep else f'namespace="{ns}",pod="{labels.get("pod", "")}"'
        exprs = {
            "restarts": f"sum(increase(kube_pod_container_status_restarts_total{{{sel}}}[1h]))",
            "oom": f'sum(kube_pod_container_status_last_terminated_reason{{{sel},reason="OOMKilled"}})',
            "memory": f"max(container_memory_working_set_bytes{{{sel}}}) / "
            f'max(kube_pod_container_resource_limits{{{sel},resource="memory"}})',
            "throttling": f"sum(rate(container_cpu_cfs_throttled_periods_total{{{sel}}}[5m])) / "
            f"sum(rate(container_cpu_cfs_periods_total{{{sel}}}[5m]))",
            "errors": f'sum(rate(http_requests_total{{namespace="{ns}",service="{dep}",code=~"5.."}}[5m])) / '
            f'sum(rate(http_requests_total{{namespace="{ns}",service="{dep}"}}[5m]))',
        }
        if self.prom is None:
            return {k: QueryResult(v, False, error="no PROMETHEUS_URL") for k, v in exprs.items()}
        results = await asyncio.gather(*(self.prom.query(e) for e in exprs.values()))
        return dict(zip(exprs, results, strict=True))

    def causes(self, q: dict[str, QueryResult], lang: Lang = Lang.ZH) -> list[Cause]:
        """Ranked causes, each with the figures that support it (in the reader's language)."""
        out: list[Cause] = []
        oom, mem = q["oom"].first, q["memory"].first
        if oom:
            out.append(
                Cause(
                    90,
                    "内存上限过低：容器因 OOMKilled 被杀",
                    "Memory limit too low: the container is OOMKilled",
                    tr(
                        lang,
                        "OOMKilled 容器 {n} 个，内存为上限的 {p}%",
                        "{n} OOMKilled, working set at {p}% of the limit",
                        n=f"{oom:.0f}",
                        p=f"{(mem or 0) * 100:.0f}",
                    ),
                )
            )
        elif mem and mem > 0.9:
            out.append(
                Cause(
                    60,
                    "内存接近上限",
                    "Memory close to its limit",
                    tr(lang, "内存为上限的 {p}%", "working set at {p}% of the limit", p=f"{mem * 100:.0f}"),
                )
            )
        restarts = q["restarts"].first
        if restarts and restarts >= 1:
            out.append(
                Cause(
                    50,
                    "容器反复重启",
                    "The container keeps restarting",
                    tr(lang, "1 小时内重启 {n} 次", "{n} restarts in 1h", n=f"{restarts:.0f}"),
                )
            )
        err = q["errors"].first
        if err and err > 0.05:
            out.append(
                Cause(
                    70,
                    "服务错误率升高",
                    "The service's error rate is up",
                    tr(lang, "5xx 占比 {p}%", "{p}% of requests answer 5xx", p=f"{err * 100:.0f}"),
                )
            )
        thr = q["throttling"].first
        if thr and thr > 0.25:
            out.append(
                Cause(
                    40,
                    "CPU 限流严重",
                    "Heavy CPU throttling",
                    tr(lang, "{p}% 的周期被限流", "throttled in {p}% of periods", p=f"{thr * 100:.0f}"),
                )
            )
        return sorted(out, key=lambda c: -c.score)

    async def diagnose(self, inc: Incident, event: InboundEvent, lang: Lang) -> tuple[Card, str | None]:
        q = await self.queries(inc)
        causes = self.causes(q, lang)
        findings = ["OOMKilled"] if q["oom"].first else []
        books = [b for b in self.book.matching(inc, findings)]
        blocks: list[Any] = [
            Fields(
                (
                    (tr(lang, "1 小时重启次数", "Restarts (1h)"), _fmt(q["restarts"], lang)),
                    (tr(lang, "内存 / 上限", "Memory / limit"), _fmt(q["memory"], lang, pct=True)),
                    (tr(lang, "OOMKilled 容器", "OOMKilled containers"), _fmt(q["oom"], lang)),
                    (tr(lang, "CPU 限流", "CPU throttling"), _fmt(q["throttling"], lang, pct=True)),
                    (tr(lang, "5xx 错误率", "5xx error rate"), _fmt(q["errors"], lang, pct=True)),
                )
            )
        ]
        if causes:
            lines = [
                f"{i}. **{tr(lang, c.zh, c.en)}**（{c.evidence}）"
                if lang is Lang.ZH
                else f"{i}. **{c.en}** ({c.evidence})"
                for i, c in enumerate(causes, 1)
            ]
            blocks.append(
                Markdown(
                    tr(lang, "**可能原因（按可能性排序）**", "**Likely causes (most likely first)**")
                    + "\n"
                    + "\n".join(lines)
                )
            )
        else:
            blocks.append(Note(tr(lang, "指标中没有发现明显原因。", "The metrics show no clear cause."), Tone.INFO))
        if not any(r.ok for r in q.values()):
            blocks.append(
                Note(
                    tr(lang, "Prometheus 暂不可用，指标未知。", "Prometheus is not reachable: metrics unknown."),
                    Tone.WARNING,
                )
            )
        if books:
            blocks.append(
                Markdown(
                    tr(lang, "**建议预案**：", "**Proposed runbook**: ")
                    + (books[0].title.zh if lang is Lang.ZH else books[0].title.en)
                )
            )
        buttons = tuple(
            Button(
                tr(lang, "执行预案：", "Run: ") + (b.title.zh if lang is Lang.ZH else b.title.en),
                Action(OP_RUNBOOK, {"i": inc.id, "r": b.id}),
                ButtonStyle.PRIMARY,
            )
            for b in books[:3]
        )
        top = f"{tr(lang, causes[0].zh, causes[0].en)} ({causes[0].evidence})" if causes else None
        return Card(
            title=tr(lang, "诊断：{t}", "Diagnosis: {t}", t=inc.title),
            blocks=tuple(blocks),
            buttons=buttons,
            tone=Tone.WARNING if causes else Tone.INFO,
            footer=inc.id,
            meta={"lang": lang.value, "incident": inc.id},
        ), top

    async def propose(
        self, inc: Incident, runbook_id: str, event: CardActionEvent, responder: Responder, lang: Lang
    ) -> None:
        """Hand the runbook's first step to the gate: policy, server-side dry-run preview, approval, exactly once."""
        book = self.book.books.get(runbook_id)
        values = book.bind(_labels(inc)) if book is not None else None
        if book is None or values is None:
            await responder.toast(tr(lang, "这个预案不适用于该告警。", "That runbook does not apply to this alert."))
            return
        step = book.steps[0]
        info = self.gateway.info(step.tool) if self.gateway is not None else None
        if info is None or self.gate is None:
            await responder.toast(tr(lang, "预案所需的工具现在不可用。", "The runbook's tool is not available now."))
            return
        call = ToolCall(step.tool, Runbook.fill(step, values))
        await self.gate.propose(Caller(event.conversation, event.sender), call, info, responder, lang)
        title = book.title.zh if lang is Lang.ZH else book.title.en
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
        """`/metrics <workload> [-n ns]`: the last hour of CPU, memory, restarts and error rate, as sparklines."""
        if not _NAME.match(name) or (namespace is not None and not _NAME.match(namespace)):
            return Card(
                title=tr(lang, "名称不对", "Not a valid name"),
                blocks=(
                    Markdown(
                        tr(
                            lang,
                            "用法：`/metrics <工作负载> [-n 命名空间]`",
                            "Usage: `/metrics <workload> [-n namespace]`",
                        )
                    ),
                ),
                tone=Tone.WARNING,
            )
        if self.prom is None:
            return Card(
                title=tr(lang, "指标：{n}", "Metrics: {n}", n=name),
                blocks=(
                    Note(
                        tr(lang, "未配置 Prometheus（PROMETHEUS_URL）。", "No Prometheus configured (PROMETHEUS_URL)."),
                        Tone.WARNING,
                    ),
                ),
            )
        ns = f'namespace="{namespace}",' if namespace else ""
        sel, svc = f'{ns}pod=~"{name}-.*"', f'{ns}service="{name}"'
        results = await asyncio.gather(
            *(
                self.prom.query_range(expr.format(sel=sel, svc=svc), seconds=3600, step=150)
                for _, _, expr, _ in METRIC_PANELS
            )
        )
        lines = []
        for (zh, en, _, scale), (series, error) in zip(METRIC_PANELS, results, strict=True):
            label = tr(lang, zh, en)
            if error:
                lines.append(f"{label:<16} {tr(lang, '未知（查询失败）', 'unknown (query failed)')}")
            elif not series or not series[0].values:
                lines.append(f"{label:<16} {tr(lang, '无数据', 'no data')}")
            else:
                values = [v * scale for v in series[0].values]
                lines.append(f"{label:<16} {sparkline(values)} {values[-1]:.2f}")
        where = f"{namespace}/{name}" if namespace else name
        return Card(
            title=tr(lang, "指标：{w}（最近 1 小时）", "Metrics: {w} (last hour)", w=where),
            blocks=(Code("\n".join(lines)),),
            footer=tr(lang, "来自 Prometheus", "from Prometheus"),
            meta={"lang": lang.value},
        )
