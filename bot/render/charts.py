"""Text forms of a `Chart` block (pure): sparklines for the console and for cards whose image could not be made,
and the one-line-per-series caption shown under an uploaded chart image."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.core.i18n import Lang, tr
from bot.render.model import Chart
from bot.render.png import MAX_SERIES, SERIES_MARKS, compact

_BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
MAX_CHART_SERIES = MAX_SERIES


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    points = [v for v in values if math.isfinite(v)][-width:]  # the newest points: the recent shape matters most
    if not points:
        return ""
    lo, hi = min(points), max(points)
    span = hi - lo or 1.0
    return "".join(_BARS[min(len(_BARS) - 1, int((v - lo) / span * (len(_BARS) - 1)))] for v in points)


def _label(label: str, unit: str) -> str:
    return f"{label} ({unit})" if unit and unit not in label else label


def sparkline_lines(chart: Chart, lang: Lang) -> list[str]:
    """`label  ▁▂▅█ last` per series; a series without points says so."""
    series = chart.series[:MAX_CHART_SERIES]
    labels = [_label(label, unit) for label, _, unit in series]
    pad = max((len(x) for x in labels), default=0)
    out = []
    for text, (_, values, _) in zip(labels, series, strict=True):
        points = [v for v in values if math.isfinite(v)]
        if not points:
            out.append(f"{text:<{pad}}  {tr(lang, '无数据', 'no data')}")
        else:
            out.append(f"{text:<{pad}}  {sparkline(points)} {compact(points[-1])}")
    return out + _more_series(chart, lang)


def caption_lines(chart: Chart, lang: Lang) -> list[str]:
    """Under the image: the panel's colour, its label, the last value and the range, in panel order."""
    out = []
    for mark, (label, values, unit) in zip(SERIES_MARKS, chart.series[:MAX_CHART_SERIES], strict=False):
        points = [v for v in values if math.isfinite(v)]
        text = _label(label, unit)
        if not points:
            out.append(f"{mark} {text}: {tr(lang, '无数据', 'no data')}")
        else:
            out.append(
                tr(
                    lang,
                    "{m} {t}：当前 {v}（{lo} – {hi}）",
                    "{m} {t}: now {v} ({lo} – {hi})",
                    m=mark,
                    t=text,
                    v=compact(points[-1]),
                    lo=compact(min(points)),
                    hi=compact(max(points)),
                )
            )
    return out + _more_series(chart, lang)


def _more_series(chart: Chart, lang: Lang) -> list[str]:
    """The visible marker for the series left out of a chart's text (empty when none were)."""
    n = len(chart.series) - MAX_CHART_SERIES
    return [tr(lang, "…（另有 {n} 条序列，已截断）", "… ({n} more series, truncated)", n=n)] if n > 0 else []
