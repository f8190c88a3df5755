"""The diagnosis card: an optional AI summary on top, the key figures, the ranked causes with their evidence and
confidence, each cause's runbooks, and the runbooks as buttons. Pure: built from the evidence and the ranking.

Bounded: at most MAX_CAUSES causes of MAX_EVIDENCE lines each and CAUSES_CHARS characters in all, with a
visible truncated marker. Without Prometheus the card says "no metrics" and stands on the cluster alone.
Pure but for one hook: inside a deferred summary (bot.alerts.summary.DEFERRED) it marks the summary pending and
leaves the caller the rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.alerts.cards import OP_RUNBOOK
from bot.alerts.causes import Cause, confidence_label
from bot.alerts.charts import diagnosis_chart
from bot.alerts.evidence import Evidence, MetricFacts
from bot.alerts.incidents import Incident
from bot.alerts.summary import DEFERRED
from bot.core.actions import Action
from bot.core.cards import Block, Button, ButtonStyle, Card, Fields, Markdown, Note, Tone
from bot.core.i18n import Lang, tr
from tools.runbooks import Runbook

MAX_CAUSES = 5
MAX_EVIDENCE = 5
MAX_BUTTONS = 3
CAUSES_CHARS = 3_000


def _title(book: Runbook, lang: Lang) -> str:
    return book.title.zh if lang is Lang.ZH else book.title.en


def _fmt(m: MetricFacts, key: str, lang: Lang, *, pct: bool = False, digits: int = 0) -> str:
    if key in m.failed:
        return tr(lang, "未知（查询失败）", "unknown (query failed)")
    v = m.get(key)
    if v is None or v != v:  # no series, or NaN (nothing to divide by)
        return tr(lang, "无数据", "no data")
    return f"{v * 100:.0f}%" if pct else f"{v:.{digits}f}"


def figures(m: MetricFacts, lang: Lang) -> Fields:
    return Fields(
        (
            (tr(lang, "1 小时重启次数", "Restarts (1h)"), _fmt(m, "restarts_1h", lang)),
            (tr(lang, "内存 / 上限", "Memory / limit"), _fmt(m, "mem_ratio", lang, pct=True)),
            (tr(lang, "OOMKilled 容器", "OOMKilled containers"), _fmt(m, "oom", lang)),
            (tr(lang, "CPU 限流", "CPU throttling"), _fmt(m, "throttling", lang, pct=True)),
            (tr(lang, "每秒请求数", "Requests/s"), _fmt(m, "req_rate", lang, digits=1)),
            (tr(lang, "5xx 错误率", "5xx error rate"), _fmt(m, "err_ratio", lang, pct=True)),
        )
    )


def causes_markdown(causes: Sequence[Cause], books: dict[str, list[Runbook]], lang: Lang) -> str:
    head = tr(lang, "**可能原因（按可能性排序）**", "**Likely causes (most likely first)**")
    parts: list[str] = []
    for i, c in enumerate(causes[:MAX_CAUSES], 1):
        conf = tr(lang, "置信度 {c}", "confidence {c}", c=confidence_label(c.score, lang))
        lines = [f"{i}. **{c.title(lang)}** · {conf}"]
        lines += [f"- {e}" for e in c.evidence[:MAX_EVIDENCE]]
        if len(c.evidence) > MAX_EVIDENCE:
            lines.append(
                tr(
                    lang,
                    "- …另有 {n} 条证据（已截断）",
                    "- … {n} more (truncated)",
                    n=str(len(c.evidence) - MAX_EVIDENCE),
                )
            )
        matched = books.get(c.finding) or []
        if matched:
            lines.append(
                tr(
                    lang,
                    "- 对应预案：{b}",
                    "- runbook: {b}",
                    b=tr(lang, "、", ", ").join(_title(b, lang) for b in matched),
                )
            )
        parts.append("\n".join(lines))
    if len(causes) > MAX_CAUSES:
        parts.append(
            tr(lang, "…另有 {n} 个可能原因（已截断）", "… {n} more causes (truncated)", n=str(len(causes) - MAX_CAUSES))
        )
    text = head + "\n" + "\n\n".join(parts)
    if len(text) > CAUSES_CHARS:
        text = text[:CAUSES_CHARS] + tr(lang, " …（已截断）", " …[truncated]")
    return text


def build_card(
    inc: Incident,
    ev: Evidence,
    causes: Sequence[Cause],
    books: dict[str, list[Runbook]],
    buttons: Sequence[Runbook],
    lang: Lang,
    summary: str | None = None,
    *,
    summary_state: str = "",
) -> Card:
    """`summary_state`: "" (no summary asked for, or `summary` given), "pending" or "unavailable"."""
    slot = DEFERRED.get()
    if slot is not None and slot.pending and slot.rebuild is None and summary is None and not summary_state:
        # the card goes out now; the caller replaces it with this rebuild once the model answers (bot.alerts.summary)
        def rebuild(answer: str | None) -> Card:
            state = "" if answer else "unavailable"
            return build_card(inc, ev, causes, books, buttons, lang, answer, summary_state=state)

        slot.rebuild = rebuild
        summary_state = "pending"
    blocks: list[Block] = []
    if summary:
        blocks.append(Markdown(tr(lang, "**AI 摘要**：", "**AI summary**: ") + summary))
    elif summary_state == "pending":
        blocks.append(Note(tr(lang, "AI 摘要：正在生成摘要…", "AI summary: summary pending…"), Tone.INFO))
    elif summary_state == "unavailable":
        blocks.append(Note(tr(lang, "AI 摘要：摘要暂不可用。", "AI summary: summary unavailable."), Tone.INFO))
    m = ev.metrics
    if m is None:
        blocks.append(
            Note(
                tr(
                    lang,
                    "无指标：未配置 Prometheus，以下仅依据集群状态（事件、Pod 状态、日志）。",
                    "No metrics: no Prometheus is configured; this is from the cluster alone (events, pods, logs).",
                ),
                Tone.WARNING,
            )
        )
    elif not m.reachable:
        blocks.append(
            Note(
                tr(
                    lang,
                    "无指标：Prometheus 暂不可用，指标未知；以下仅依据集群状态。",
                    "No metrics: Prometheus is not reachable, metrics unknown; this is from the cluster alone.",
                ),
                Tone.WARNING,
            )
        )
    else:
        blocks.append(figures(m, lang))
        chart = diagnosis_chart(m, lang)  # a PNG where the platform shows images (bot.alerts.charts)
        if chart is not None:
            blocks.append(chart)
    if ev.cluster is not None and ev.cluster.health is None:
        blocks.append(
            Note(
                tr(
                    lang,
                    "读取集群状态失败，以下仅依据指标。",
                    "The cluster could not be read; this is from the metrics alone.",
                ),
                Tone.WARNING,
            )
        )
    if causes:
        blocks.append(Markdown(causes_markdown(causes, books, lang)))
    else:
        blocks.append(
            Note(tr(lang, "没有发现明显原因。", "No clear cause found in the cluster or the metrics."), Tone.INFO)
        )
    return Card(
        title=tr(lang, "诊断：{t}", "Diagnosis: {t}", t=inc.title),
        blocks=tuple(blocks),
        buttons=tuple(
            Button(
                tr(lang, "执行预案：", "Run: ") + _title(b, lang),
                Action(OP_RUNBOOK, {"i": inc.id, "r": b.id}),
                ButtonStyle.PRIMARY,
            )
            for b in buttons[:MAX_BUTTONS]
        ),
        tone=Tone.WARNING if causes else Tone.INFO,
        footer=inc.id,
        meta={"lang": lang.value, "incident": inc.id},
    )


def top_cause(causes: Sequence[Cause], lang: Lang) -> str | None:
    """One line for the incident's timeline and report: the first cause and its first evidence."""
    if not causes:
        return None
    c = causes[0]
    # the first line that says something ("Failed to pull image X ..." rather than "Error: ImagePullBackOff")
    lines = [e.replace("`", "") for e in c.evidence]
    first = next((e for e in lines if len(e) > 30), lines[0] if lines else "")
    text = (tr(lang, "{t}（{e}）", "{t} ({e})", t=c.title(lang), e=first)) if first else c.title(lang)
    return text if len(text) <= 300 else text[:300] + tr(lang, "…（已截断）", " …[truncated]")
