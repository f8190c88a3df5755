"""Shift handover: at the configured times (UTC) one replica (a lease in Redis) posts a report card to the
configured chats: the cluster's unhealthy workloads (one `cluster_overview` read per report), open incidents,
the noisiest alerts of the last shift, and the changes made (every executed change in the audit trail, runbook
or not). A part that cannot be read says so; it never stops the report.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.alerts.cards import duration
from bot.alerts.incidents import Incident
from bot.alerts.outbox import Outbox
from bot.alerts.service import AlertService
from bot.alerts.shiftdata import Changes, Unhealthy, shift_changes, unhealthy_workloads
from bot.core.cards import Card, Markdown, Table, Tone
from bot.core.i18n import Lang, tr
from bot.store import Store

log = logging.getLogger(__name__)

LEASE_TTL = 6 * 3600
RECENT_SCAN = 500
MAX_ROWS = 10
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_times(times: Sequence[str]) -> list[tuple[int, int]]:
    out = []
    for t in times:
        m = _HHMM.match(t.strip())
        if not m:
            raise ValueError(f"HANDOVER_TIMES: {t!r} is not HH:MM (UTC)")
        out.append((int(m.group(1)), int(m.group(2))))
    return sorted(set(out))


def next_slot(now: datetime, times: Sequence[tuple[int, int]]) -> datetime:
    for day in (0, 1):
        base = (now + timedelta(days=day)).replace(second=0, microsecond=0)
        for h, m in times:
            at = base.replace(hour=h, minute=m)
            if at > now:
                return at
    raise ValueError("no handover times")


def _cut(lang: Lang, shown: int, total: int | str) -> str:
    return tr(lang, "仅显示 {n}/{t} 个（已截断）", "showing {n} of {t} (truncated)", n=shown, t=total)


def _unhealthy_block(unhealthy: Unhealthy, lang: Lang) -> Markdown | Table:
    if unhealthy.error:
        return Markdown(
            tr(
                lang,
                "**集群中的异常工作负载**：读取失败，未知。",
                "**Unhealthy workloads**: could not read the cluster.",
            )
        )
    if not unhealthy.rows:
        return Markdown(tr(lang, "**集群中的异常工作负载**：无。", "**Unhealthy workloads**: none."))
    rows = unhealthy.rows[:MAX_ROWS]
    more = len(unhealthy.rows) > MAX_ROWS or unhealthy.truncated
    total = f"{len(unhealthy.rows)}+" if unhealthy.truncated else len(unhealthy.rows)
    return Table(
        (tr(lang, "异常工作负载", "Unhealthy workload"), tr(lang, "就绪/期望 或 原因", "Ready/desired or reason")),
        rows,
        truncated=_cut(lang, len(rows), total) if more else None,
    )


def _changes_block(changes: Changes, lang: Lang) -> Markdown:
    head = tr(lang, "**本班次的变更**", "**Changes this shift**")
    if not changes.items:
        return Markdown(head + tr(lang, "：无。", ": none."))
    lines = []
    for c in changes.items[:MAX_ROWS]:
        at = datetime.fromtimestamp(c.at, UTC).strftime("%H:%M")
        by = tr(lang, "，{a} 批准", ", approved by {a}", a=c.approvers) if c.approvers else ""
        lines.append(f"- {at} {c.who}{by}: `{c.request[:120]}`")
    if len(changes.items) > MAX_ROWS or changes.maybe_more:
        total = f"{len(changes.items)}+" if changes.maybe_more else len(changes.items)
        lines.append(f"- … {_cut(lang, min(MAX_ROWS, len(changes.items)), total)}")
    return Markdown(head + "\n" + "\n".join(lines))


def report_card(
    incidents: Sequence[Incident],
    *,
    since: float,
    now: float,
    lang: Lang,
    unhealthy: Unhealthy | None = None,
    audit: Changes | None = None,
) -> Card:
    open_ = [i for i in incidents if not i.resolved]
    shift = [i for i in incidents if i.opened_at >= since]
    noisy = Counter(i.title.split(" · ")[0] for i in shift).most_common(5)
    changes = [(i, a) for i in shift for a in i.actions]
    blocks: list[Markdown | Table] = [
        Markdown(
            tr(
                lang,
                "本班次（{h}）新事件 {n} 个，已恢复 {r} 个；当前进行中 {o} 个。",
                "This shift ({h}): {n} new incidents, {r} resolved; {o} open now.",
                h=duration(now - since, lang),
                n=len(shift),
                r=sum(1 for i in shift if i.resolved),
                o=len(open_),
            )
        )
    ]
    if unhealthy is not None:
        blocks.append(_unhealthy_block(unhealthy, lang))
    if open_:
        rows = tuple(
            (i.id, i.priority.value, i.title[:60], i.claimed_name or i.claimed_by or "-") for i in open_[:MAX_ROWS]
        )
        cut = tr(lang, "仅显示 {n}/{t} 个（已截断）", "showing {n} of {t} (truncated)", n=MAX_ROWS, t=len(open_))
        blocks.append(
            Table(
                (
                    tr(lang, "进行中", "Open"),
                    tr(lang, "级别", "Prio"),
                    tr(lang, "告警", "Alert"),
                    tr(lang, "认领人", "Claimed by"),
                ),
                rows,
                truncated=cut if len(open_) > MAX_ROWS else None,
            )
        )
    if noisy:
        lines = "\n".join(f"- {name} × {count}" for name, count in noisy)
        blocks.append(Markdown(tr(lang, "**最吵的告警**", "**Noisiest alerts**") + "\n" + lines))
    if audit is not None:
        blocks.append(_changes_block(audit, lang))
    elif changes:  # no audit trail to read: the runbooks' own record
        lines = "\n".join(f"- {i.id}: {a}" for i, a in changes[:MAX_ROWS])
        blocks.append(Markdown(tr(lang, "**本班次的变更**", "**Changes this shift**") + "\n" + lines))
    return Card(
        title=tr(lang, "值班交接报告", "Shift handover report"),
        blocks=tuple(blocks),
        tone=Tone.WARNING if open_ else Tone.SUCCESS,
        footer=datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        meta={"lang": lang.value},
    )


class Handover:
    def __init__(
        self,
        *,
        service: AlertService,
        store: Store,
        outbox: Callable[[], Outbox | None],
        times: Sequence[str],
        chats: Sequence[str],
        lang: Lang = Lang.ZH,
        clock: Callable[[], float] = time.time,
        gateway: Any = None,
    ) -> None:
        self.gateway = gateway  # reads the cluster's unhealthy workloads; None: that part is left out
        self.service = service
        self.store = store
        self.outbox = outbox
        self.times = parse_times(times)
        self.chats = list(chats)
        self.lang = lang
        self.clock = clock

    def shift_start(self, slot: datetime) -> datetime:
        earlier = [slot.replace(hour=h, minute=m) for h, m in self.times]
        before = [t for t in earlier if t < slot] or [t - timedelta(days=1) for t in earlier]
        return max(before)

    async def send(self, slot: datetime) -> bool:
        """Post the report of the shift ending at `slot`, if this replica takes the lease. True if it did."""
        if not await self.store.first_seen(self.store.keys.handover_lease(slot.isoformat()), LEASE_TTL):
            return False
        since, until = self.shift_start(slot).timestamp(), slot.timestamp()
        incidents = await self.service.incidents.recent(RECENT_SCAN)
        unhealthy = await unhealthy_workloads(self.gateway) if self.gateway is not None else None
        try:
            audit: Changes | None = await shift_changes(self.store, since, until)
        except Exception:  # the store failing here still lets the rest of the report out
            log.exception("handover: reading the audit trail failed")
            audit = None
        card = report_card(incidents, since=since, now=until, lang=self.lang, unhealthy=unhealthy, audit=audit)
        outbox = self.outbox()
        for chat in self.chats:
            responder = outbox.responder(chat, self.lang) if outbox is not None else None
            if responder is None:
                log.warning("handover: %s is not connected; report not posted there", chat)
                continue
            try:
                await responder.send(card)
            except Exception:  # one chat failing does not stop the others
                log.exception("handover: posting to %s failed", chat)
        return True

    async def run(self) -> None:
        while True:
            now = datetime.fromtimestamp(self.clock(), UTC)
            slot = next_slot(now, self.times)
            await asyncio.sleep(max(0.0, (slot - now).total_seconds()))
            await self.send(slot)
