"""`/metrics <workload> [-n namespace]`: the last hour of CPU, memory (against its limit), restarts, request and
error rates from Prometheus, as text sparklines (every platform and the console can show them)."""

from __future__ import annotations

import asyncio

from bot.alerts.charts import CHART_PANELS, chart_of
from bot.alerts.evidence import NAME
from bot.core.cards import Card, Chart, Code, Markdown, Note, Tone
from bot.core.i18n import Lang, tr
from tools.prom import PromClient, sparkline

# The panels, declared once: (zh, en, PromQL over the workload's pods `{sel}` / its service `{svc}`, scale)
METRIC_PANELS: tuple[tuple[str, str, str, float], ...] = (
    ("CPU（核）", "CPU (cores)", "sum(rate(container_cpu_usage_seconds_total{{{sel}}}[5m]))", 1.0),
    ("内存（MiB）", "Memory (MiB)", "sum(container_memory_working_set_bytes{{{sel}}})", 1 / 2**20),
    (
        "内存占上限（%）",
        "Memory of limit (%)",
        "max(container_memory_working_set_bytes{{{sel}}} / on(namespace,pod,container) group_left() "
        'max by (namespace,pod,container) (kube_pod_container_resource_limits{{{sel},resource="memory"}}))',
        100.0,
    ),
    ("重启次数", "Restarts", "sum(kube_pod_container_status_restarts_total{{{sel}}})", 1.0),
    ("每秒请求数", "Requests/s", "sum(rate(http_requests_total{{{svc}}}[5m]))", 1.0),
    (
        "5xx 错误率（%）",
        "5xx errors (%)",
        'sum(rate(http_requests_total{{{svc},code=~"5.."}}[5m])) / sum(rate(http_requests_total{{{svc}}}[5m]))',
        100.0,
    ),
)


def _usage(lang: Lang) -> Card:
    return Card(
        title=tr(lang, "名称不对", "Not a valid name"),
        blocks=(
            Markdown(
                tr(lang, "用法：`/metrics <工作负载> [-n 命名空间]`", "Usage: `/metrics <workload> [-n namespace]`")
            ),
        ),
        tone=Tone.WARNING,
    )


def _pad(label: str, width: int = 16) -> str:
    # CJK characters take two columns in a monospace block: pad by display width so the sparklines line up
    cols = sum(2 if ord(ch) > 0x2E80 else 1 for ch in label)
    return label + " " * max(1, width - cols)


async def metrics_card(prom: PromClient | None, name: str, namespace: str | None, lang: Lang) -> Card:
    if not name or len(name) > 253 or not NAME.match(name) or (namespace is not None and not NAME.match(namespace)):
        return _usage(lang)
    where = f"{namespace}/{name}" if namespace else name
    if prom is None:
        return Card(
            title=tr(lang, "指标：{n}", "Metrics: {n}", n=where),
            blocks=(
                Note(
                    tr(lang, "未配置 Prometheus（PROMETHEUS_URL）。", "No Prometheus configured (PROMETHEUS_URL)."),
                    Tone.WARNING,
                ),
            ),
        )
    ns = f'namespace="{namespace}",' if namespace else ""
    sel, svc = f'{ns}pod=~"{name}-[a-z0-9]+-[a-z0-9]+|{name}"', f'{ns}service="{name}"'
    results = await asyncio.gather(
        *(prom.query_range(expr.format(sel=sel, svc=svc), seconds=3600, step=150) for _, _, expr, _ in METRIC_PANELS)
    )
    lines, empty, failed = [], 0, 0
    charted: list[tuple[str, tuple[float, ...], str]] = []  # the chart image's panels (bot.alerts.charts)
    for (zh, en, _, scale), (series, error) in zip(METRIC_PANELS, results, strict=True):
        label = _pad(tr(lang, zh, en))
        values = [v * scale for v in series[0].values if v == v] if series else []
        if values and not error and (zh, en) in CHART_PANELS:
            charted.append((tr(lang, zh, en), tuple(values), ""))
        if error:
            failed += 1
            lines.append(label + tr(lang, "未知（查询失败）", "unknown (query failed)"))
        elif not values:
            empty += 1
            lines.append(label + tr(lang, "无数据", "no data"))
        else:
            lines.append(f"{label}{sparkline(values)} {values[-1]:.2f}")
    blocks: list[Chart | Code | Note] = [chart_of(charted)] if charted else []
    blocks.append(Code("\n".join(lines)))
    if failed == len(METRIC_PANELS):
        blocks.append(Note(tr(lang, "Prometheus 暂不可用。", "Prometheus is not reachable."), Tone.WARNING))
    elif empty + failed == len(METRIC_PANELS):
        blocks.append(
            Note(
                tr(
                    lang,
                    "没有这个工作负载的指标：名称或命名空间（-n）对吗？",
                    "No series for this workload: is the name or the namespace (-n) right?",
                ),
                Tone.INFO,
            )
        )
    return Card(
        title=tr(lang, "指标：{w}（最近 1 小时）", "Metrics: {w} (last hour)", w=where),
        blocks=tuple(blocks),
        footer=tr(lang, "来自 Prometheus", "from Prometheus"),
        meta={"lang": lang.value},
    )
