"""Chart images for the on-call loop: which series `/metrics` draws, and `render_chart` for anyone who wants the
PNG itself (the diagnosis's key series: put a `Chart` block in the card and the channel uploads it; call
`render_chart` directly only to get the bytes).

A `Chart` block is drawn and uploaded by the channel (Feishu `im/v1/images`, DingTalk media upload) when the card
is sent (`bot.channels.charts`); the console and any failed upload show text sparklines instead, never an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.alerts.evidence import MetricFacts
from bot.core.cards import Chart
from bot.core.i18n import Lang, tr
from bot.render.png import MAX_SERIES, render_chart

__all__ = ["CHART_PANELS", "MAX_SERIES", "chart_of", "diagnosis_chart", "render_chart"]

# /metrics panels worth a picture, by their (zh, en) labels in `bot.alerts.metrics_panel.METRIC_PANELS`: the
# shape of CPU, memory, restarts and errors over the hour; at most MAX_SERIES are drawn.
CHART_PANELS = frozenset(
    {
        ("CPU（核）", "CPU (cores)"),
        ("内存（MiB）", "Memory (MiB)"),
        ("重启次数", "Restarts"),
        ("5xx 错误率（%）", "5xx errors (%)"),
    }
)


def chart_of(series: Sequence[tuple[str, Sequence[float], str]], title: str = "", *, has_text: bool = True) -> Chart:
    """A chart block of up to MAX_SERIES (label, values oldest first, unit) series. `has_text`: the card shows the
    same series as text already, so a chart that cannot be drawn shows nothing instead of repeating them."""
    return Chart(
        title=title,
        series=tuple((label, tuple(values), unit) for label, values, unit in list(series)[:MAX_SERIES]),
        text_fallback=not has_text,
    )


def diagnosis_chart(metrics: MetricFacts, lang: Lang) -> Chart | None:
    """The diagnosis's key series over time (restarts, 5xx ratio), or None when Prometheus gave neither. The
    diagnosis card states its figures as numbers, so this chart stands alone (sparklines when no image)."""
    series: list[tuple[str, Sequence[float], str]] = []
    if metrics.restarts_series:
        series.append((tr(lang, "重启次数", "Restarts"), metrics.restarts_series, ""))
    if metrics.error_series:
        series.append((tr(lang, "5xx 错误率（%）", "5xx errors (%)"), [v * 100 for _, v in metrics.error_series], ""))
    if not series:
        return None
    return chart_of(series, tr(lang, "关键指标走势", "Key series"), has_text=False)
