"""The health of a tool source, for `/status` and the health endpoint (no MCP import: the built-in source has
one too)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.core.i18n import tr

State = Literal["idle", "connecting", "up", "reconnecting", "stopped"]

_TRUNCATED = "…[truncated 已截断: {n} more characters]"


def _bound(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + _TRUNCATED.format(n=len(text) - limit)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    transport: str  # inprocess | stdio | http
    state: State
    tools: int
    error: str | None = None  # the last connection problem
    failures: int = 0  # failed connection attempts since the last success
    since: float = 0.0  # wall time of the last state change
    retry_in: float | None = None  # seconds until the next attempt, while reconnecting
    server: str = ""  # name/version the server gave
    warnings: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return self.state == "up"

    def line(self, lang: str) -> str:
        """One line for `/status`."""
        if self.state == "up":
            return tr(lang, f"✅ {self.name}：在线，{self.tools} 个工具", f"✅ {self.name}: up, {self.tools} tools")
        if self.state in ("idle", "connecting"):
            return tr(lang, f"⏳ {self.name}：连接中", f"⏳ {self.name}: connecting")
        if self.state == "stopped":
            return tr(lang, f"⏹ {self.name}：已停止", f"⏹ {self.name}: stopped")
        wait = f"{self.retry_in:.0f}" if self.retry_in is not None else "?"
        err = _bound(self.error or "?", 200)
        return tr(
            lang,
            f"❌ {self.name}：不可用（{err}）；已失败 {self.failures} 次，{wait} 秒后重试",
            f"❌ {self.name}: down ({err}); {self.failures} failed attempts, next in {wait}s",
        )


def source_statuses(sources: Sequence[object]) -> list[SourceStatus]:
    """The status of every source among `sources` that reports one (built-in and MCP)."""
    out: list[SourceStatus] = []
    for source in sources:
        status = getattr(source, "status", None)
        if callable(status):
            st = status()
            if isinstance(st, SourceStatus):
                out.append(st)
    return out
