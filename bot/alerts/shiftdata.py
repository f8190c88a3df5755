"""What the shift report reads besides incidents: the cluster's unhealthy workloads (the `cluster_overview` read
tool, the same answer `/status` gives) and the changes made in the shift (the gate's audit trail: every executed
change, runbook or not). Each part fails on its own: the report then says that part is unknown."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.render.names import display
from bot.store import Store
from bot.tooling.types import ToolCall

log = logging.getLogger(__name__)

OVERVIEW_TOOL = "cluster_overview"
AUDIT_SCAN = 2000  # newest audit entries read per report; older changes of a long shift are counted as cut
EXECUTED = frozenset({"executed", "ok"})


@dataclass(frozen=True)
class Unhealthy:
    """`rows`: (namespace/name, what is wrong); `error` when the cluster could not be read."""

    rows: tuple[tuple[str, str], ...] = ()
    truncated: bool = False
    error: str = ""


@dataclass(frozen=True)
class Change:
    at: float
    who: str
    request: str
    approvers: str = ""


@dataclass(frozen=True)
class Changes:
    items: tuple[Change, ...] = field(default_factory=tuple)
    maybe_more: bool = False  # the scan ended inside the shift: older changes were not read


async def unhealthy_workloads(gateway: Any) -> Unhealthy:
    if gateway is None:
        return Unhealthy(error="no cluster access")
    try:
        outcome = await gateway.call(ToolCall(OVERVIEW_TOOL, {}))
    except Exception:  # a tool source bug must not cost the whole report
        log.exception("handover: cluster overview failed")
        return Unhealthy(error="failed")
    if not outcome.ok or outcome.data is None:
        return Unhealthy(error=(outcome.error or "failed")[:120])
    data = outcome.data
    rows: list[tuple[str, str]] = []
    lagging = {f"{d['namespace']}/{d['name']}": d for d in data.get("deployments_unavailable") or []}
    for key, d in lagging.items():
        rows.append((key, f"{d.get('ready', 0)}/{d.get('desired', 0)}"))  # ready/desired: worded by the card
    for p in data.get("unhealthy_pods") or []:
        reason = str(p.get("reason") or "?")
        restarts = int(p.get("restarts") or 0)
        rows.append((f"{p['namespace']}/{p['name']}", reason + (f" ×{restarts}" if restarts else "")))
    return Unhealthy(rows=tuple(rows), truncated=bool(data.get("truncated")))


def _when(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


async def shift_changes(store: Store, since: float, until: float) -> Changes:
    rows = await store.read_stream_tail(store.keys.audit_stream(), AUDIT_SCAN)
    out: list[Change] = []
    oldest: float | None = None
    for row in rows:  # newest first
        at = _when(row.get("time", ""))
        if at is None:
            continue
        oldest = at
        if not since <= at <= until or row.get("event") != "execute" or row.get("decision") not in EXECUTED:
            continue
        approvers = ", ".join(display(s.strip()) for s in row.get("approvers", "").split(",") if s.strip())
        user, platform = row.get("user", ""), row.get("platform", "")
        subject = f"{platform}:{user}" if platform else user
        who = display(subject)
        out.append(Change(at, user if who == subject else who, row.get("request", ""), approvers))
    out.reverse()
    return Changes(tuple(out), maybe_more=len(rows) >= AUDIT_SCAN and oldest is not None and oldest > since)
