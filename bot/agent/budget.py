"""Bounding what tools return before it enters the model's context.

A big result costs tokens and drowns the signal, so each result gets a share of a per-turn budget; what does not
fit is cut with an explicit marker telling the model how much is missing and to narrow the query (holmesgpt's
habit). JSON is compacted first: empty fields and nulls carry no information for the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.tooling.types import ToolOutcome

PER_RESULT_CHARS = 4_000
TOTAL_CHARS = 16_000
MIN_SHARE = 600  # below this a result is useless; the model is told to narrow instead


def marker(more: int) -> str:
    return f"[truncated: {more} more chars; narrow the query]"


def compact(value: Any) -> Any:
    """Drop nulls, empty strings/lists/dicts (recursively); keep False and 0, which do mean something."""
    if isinstance(value, dict):
        out = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _fit_list(data: dict[str, Any], key: str, limit: int, *, keep_tail: bool) -> dict[str, Any] | None:
    """Drop elements of `data[key]` until the JSON fits `limit`, noting how many were dropped.

    Logs keep their tail (the newest lines matter); lists of objects keep their head (already sorted by the tool).
    """
    items = data.get(key)
    if not isinstance(items, list) or not items:
        return None
    lo, hi, best = 0, len(items), None
    while lo <= hi:  # binary search on how many elements fit
        mid = (lo + hi) // 2
        kept = items[len(items) - mid :] if keep_tail else items[:mid]
        dropped = len(items) - mid
        trial = dict(data)
        trial[key] = kept
        if dropped:
            where = "older" if keep_tail else "more"
            trial["_truncated"] = f"{dropped} {where} {key} not shown; narrow the query"
        if len(dumps(trial)) <= limit:
            best, lo = trial, mid + 1
        else:
            hi = mid - 1
    return best


# Lists that may be shortened, in the order they are given up: (key, keep the tail?). Logs keep their newest lines.
SHRINKABLE = (("lines", True), ("items", False), ("events", False), ("pods", False), ("deployments", False))


def render_data(data: Any, limit: int) -> str:
    """Compact JSON of `data` within `limit` chars.

    Shorten the big lists first (valid JSON, with a note of what is missing); if that is not enough, cut the
    text with a marker, the biggest fields last, so summaries and findings survive and a log blob is what goes.
    """
    data = compact(data)
    text = dumps(data)
    if len(text) <= limit:
        return text
    if not isinstance(data, dict):
        return cut(text, limit)
    work = dict(data)
    for key, tail in SHRINKABLE:
        fitted = _fit_list(work, key, limit, keep_tail=tail)
        if fitted is not None:
            return dumps(fitted)
        items = work.get(key)
        if isinstance(items, list) and items:  # even empty it would not fit: give it up, shrink the next
            work[key] = []
            work[f"_truncated_{key}"] = f"{len(items)} {key} not shown; narrow the query"
    ordered = dict(sorted(work.items(), key=lambda kv: len(dumps(kv[1]))))
    return cut(dumps(ordered), limit)


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(marker(len(text))) - 1)
    return text[:keep] + " " + marker(len(text) - keep)


def render_outcome(tool: str, outcome: ToolOutcome, limit: int) -> str:
    """The tool message the model sees: status, data or error, bounded to `limit` chars."""
    if not outcome.ok:
        err = {
            "ok": False,
            "tool": tool,
            "error_code": outcome.error_code or "failed",
            "error": outcome.error or outcome.text or "unknown error",
            "hint": "Do not guess names: list the resources to find the right one, or tell the user.",
        }
        return cut(dumps(err), limit)
    if outcome.data is not None:
        head = dumps({"ok": True, "tool": tool})[:-1] + ',"data":'
        body = render_data(outcome.data, max(0, limit - len(head) - 1))
        # A hard-cut body is no longer JSON; the model reads it fine, and the marker says what is missing.
        return head + body + ("" if body.endswith("narrow the query]") else "}")
    return cut(dumps({"ok": True, "tool": tool})[:-1] + ',"text":' + dumps(outcome.text) + "}", limit)


@dataclass
class OutputBudget:
    """A per-turn budget of characters of tool output, shared fairly among the calls of a step."""

    per_result: int = PER_RESULT_CHARS
    total: int = TOTAL_CHARS
    used: int = 0

    def share(self, calls_left: int) -> int:
        remaining = max(0, self.total - self.used)
        return max(min(self.per_result, remaining // max(1, calls_left)), min(MIN_SHARE, self.per_result))

    def take(self, tool: str, outcome: ToolOutcome, calls_left: int) -> str:
        text = render_outcome(tool, outcome, self.share(calls_left))
        self.used += len(text)
        return text
