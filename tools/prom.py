"""A small Prometheus HTTP API client (instant queries), typed results, errors as values not exceptions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True, slots=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class QueryResult:
    expr: str
    ok: bool
    samples: list[Sample] = field(default_factory=list)
    error: str = ""

    @property
    def first(self) -> float | None:
        return self.samples[0].value if self.samples else None


class PromClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def query(self, expr: str) -> QueryResult:
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as http:
                async with http.get(f"{self._base}/api/v1/query", params={"query": expr}) as resp:
                    doc = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return QueryResult(expr, False, error=f"Prometheus unreachable: {type(exc).__name__}: {exc}"[:300])
        if not isinstance(doc, dict) or doc.get("status") != "success":
            err = doc.get("error", "unknown error") if isinstance(doc, dict) else "not JSON"
            return QueryResult(expr, False, error=str(err)[:300])
        data = doc.get("data") or {}
        out: list[Sample] = []
        if data.get("resultType") == "vector":
            for item in data.get("result") or []:
                try:
                    out.append(Sample(dict(item.get("metric") or {}), float(item["value"][1])))
                except (KeyError, IndexError, TypeError, ValueError):
                    continue
        elif data.get("resultType") == "scalar":
            out.append(Sample({}, float(data["result"][1])))
        return QueryResult(expr, True, out)

    async def query_range(
        self, expr: str, *, seconds: int, step: int, end: float | None = None
    ) -> tuple[list[Series], str]:
        """A range query ending `end` (now); returns (series, error). Kept beside the client: callers need one import."""
        end = time.time() if end is None else end
        params = {"query": expr, "start": f"{end - seconds:.0f}", "end": f"{end:.0f}", "step": str(step)}
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as http:
                async with http.get(f"{self._base}/api/v1/query_range", params=params) as resp:
                    doc = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return [], f"Prometheus unreachable: {type(exc).__name__}"
        if not isinstance(doc, dict) or doc.get("status") != "success":
            return [], str(doc.get("error", "unknown error") if isinstance(doc, dict) else "not JSON")[:300]
        out: list[Series] = []
        for item in (doc.get("data") or {}).get("result") or []:
            try:
                points = item.get("values") or []
                out.append(
                    Series(
                        dict(item.get("metric") or {}),
                        [float(v[1]) for v in points],
                        [float(v[0]) for v in points],
                    )
                )
            except (TypeError, ValueError, IndexError):
                continue
        return out, ""


@dataclass(frozen=True, slots=True)
class Series:
    labels: dict[str, str]
    values: list[float]
    times: list[float] = field(default_factory=list)  # unix seconds of each value


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 24) -> str:
    """A text sparkline (the console and the markdown cards show it; no image upload needed)."""
    if not values:
        return ""
    if len(values) > width:  # keep the newest points: the recent shape matters most
        values = values[-width:]
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    return "".join(_BARS[min(len(_BARS) - 1, int((v - lo) / span * (len(_BARS) - 1)))] for v in values)
