"""Running an approved change, and settling one whose outcome is not known.

approved -> executing (CAS, with `executing_since`) -> the one write -> executed | failed | unknown.
- the API answered: executed, or failed with its error (not_found, invalid, forbidden, conflict);
- no answer (timeout, connection lost, the gateway raised): the object is read back (bot.approvals.verify) and
  the record says what was found: executed (verified), failed (verified: not applied), or unknown;
- a record left `approved`/`executing` by a replica that died, or `unknown`: the next click on it (any replica)
  reads the object back the same way. It is never run a second time and never called "already run" unless the
  read-back shows it was. "Died" = its heartbeat key (refreshed while the write runs) has expired; no fixed lease,
  so a slow write on a live replica is never mistaken for an orphan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.approvals import cards
from bot.approvals.record import APPROVED, EXECUTED, EXECUTING, FAILED, IN_FLIGHT, UNKNOWN, ApprovalRecord
from bot.approvals.storage import RecordStore
from bot.approvals.verify import Effect, Finding, Reader, read_back
from bot.core.actions import Action
from bot.core.i18n import Lang, tr
from bot.render.model import Button, ButtonStyle, Card, Markdown, Note, Tone
from bot.tooling.types import ToolCall, ToolOutcome

log = logging.getLogger(__name__)

FINAL_TTL_SECONDS = 24 * 3600
HEARTBEAT_TTL_SECONDS = 15  # the runner refreshes it every third of that; gone = the runner died
ORPHAN_GRACE_SECONDS = 10.0  # between the CAS to `approved` and the first heartbeat, the record has none yet
DEFINITE_FAILURES = frozenset({"not_found", "invalid", "forbidden", "conflict"})  # the API answered "no"
REREAD_DELAY_SECONDS = 2.0  # a write that timed out may still land: "not there" is believed on the second look

Run = Callable[[ToolCall, str], Awaitable[ToolOutcome]]
Audit = Callable[..., Awaitable[None]]
Update = Callable[[Card], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Settled:
    status: str
    result: str  # for the record and the audit (English)
    verified: bool
    finding: Finding | None = None


def _from_finding(finding: Finding, prefix: str) -> Settled:
    status = {Effect.APPLIED: EXECUTED, Effect.NOT_APPLIED: FAILED, Effect.UNDECIDED: UNKNOWN}[finding.effect]
    return Settled(status, f"{prefix}; read back: {finding.evidence}", finding.effect is not Effect.UNDECIDED, finding)


class ChangeRunner:
    def __init__(
        self,
        *,
        store: RecordStore,
        run: Run,
        reader: Reader,
        clock: Callable[[], float],
        heartbeat_ttl: int = HEARTBEAT_TTL_SECONDS,
        reread_delay: float = REREAD_DELAY_SECONDS,
    ) -> None:
        self._store = store
        self._run = run
        self._reader = reader
        self._clock = clock
        self._heartbeat_ttl = heartbeat_ttl
        self._reread_delay = reread_delay

    async def _look(self, rec: ApprovalRecord, since: float, prefix: str, *, twice: bool) -> Settled:
        finding = await read_back(self._reader, rec, self._clock() - since)
        if twice and finding.effect is Effect.NOT_APPLIED:
            await asyncio.sleep(self._reread_delay)
            finding = await read_back(self._reader, rec, self._clock() - since)
        return _from_finding(finding, prefix)

    async def _beat(self, key: str, by: str) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_ttl / 3)
            try:
                await self._store.set_json(key, by, ttl=self._heartbeat_ttl)
            except Exception:  # noqa: BLE001 - a missed beat only risks an early read-back, never a second run
                log.warning("heartbeat of %s not refreshed", key)

    async def execute(self, rec: ApprovalRecord, key: str, by: str) -> tuple[Settled, ToolOutcome | None] | None:
        """Run the stored call once. None: the record was not `approved` any more (someone else has it)."""
        beat_key = self._store.keys.running(rec.id)
        await self._store.set_json(beat_key, by, ttl=self._heartbeat_ttl)
        since = self._clock()
        moved = await self._store.transition(
            key, APPROVED, EXECUTING, ttl=FINAL_TTL_SECONDS, fields={"executing_since": repr(since), "executing_by": by}
        )
        if not moved:
            await self._store.delete(beat_key)
            return None
        beat = asyncio.create_task(self._beat(beat_key, by), name=f"heartbeat:{rec.id[:8]}")
        try:
            outcome = await self._run(rec.call, rec.requester)
            if outcome.ok:
                settled = Settled(EXECUTED, "ok", False)
            elif outcome.error_code in DEFINITE_FAILURES:
                settled = Settled(FAILED, f"{outcome.error_code}: {outcome.error}", False)
            else:
                settled = await self._look(
                    rec, since, f"no answer to the write ({outcome.error_code}: {outcome.error})", twice=True
                )
        finally:
            beat.cancel()
        if not await self._finish(key, EXECUTING, settled, by) and settled.status == EXECUTED:
            # someone took us for dead and settled it from a read-back meanwhile; the API's answer is the truth
            fresh = await self._store.get_record(key)
            if fresh is not None and fresh.get("status") in (FAILED, UNKNOWN):
                await self._finish(key, fresh["status"], settled, by)
        try:
            await self._store.delete(beat_key)
        except Exception:  # noqa: BLE001 - it expires on its own
            log.debug("heartbeat %s left to expire", beat_key)
        return settled, outcome

    async def orphaned(self, rec: ApprovalRecord) -> bool:
        """An in-flight record whose runner is gone: no heartbeat, and past the moment one would exist."""
        if rec.status not in IN_FLIGHT:
            return False
        started = rec.executing_since or rec.approved_at or rec.created
        if self._clock() - started < ORPHAN_GRACE_SECONDS:
            return False
        return not await self._store.exists(self._store.keys.running(rec.id))

    async def settle(self, rec: ApprovalRecord, key: str, by: str) -> Settled:
        """A record that is `unknown`, or in flight: while its runner may still be on it, report that and touch
        nothing; an orphan or an unknown is read back and moved to what the read-back decides (an orphan whose
        read-back cannot decide becomes `unknown`). Never runs the call."""
        if rec.status in IN_FLIGHT and not await self.orphaned(rec):
            return Settled(rec.status, "being run", False)
        since = rec.executing_since or rec.created
        settled = await self._look(rec, since, f"settled from {rec.status}", twice=False)
        if settled.status != rec.status or settled.verified:
            await self._finish(key, rec.status, settled, by)
        return settled

    async def _finish(self, key: str, expect: str, settled: Settled, by: str) -> bool:
        try:
            return bool(
                await self._store.transition(
                    key,
                    expect,
                    settled.status,
                    ttl=FINAL_TTL_SECONDS,
                    fields={
                        "result": settled.result[:500],
                        "executed_by": by,
                        "verified": "1" if settled.verified else "",
                    },
                )
            )
        except Exception:  # the change is done either way: the card and the audit still say what happened
            log.exception("could not record the outcome of %s", key)
            return False


# ---------------------------------------------------------------- cards
def _evidence(lang: Lang | str, settled: Settled) -> str:
    # the read-back evidence is English internals: shown on English cards only
    if str(lang) == Lang.EN.value and settled.finding is not None:
        return f" ({settled.finding.evidence})"
    return ""


def verified_note(lang: Lang | str, settled: Settled) -> Note:
    return Note(
        tr(
            lang,
            "Kubernetes API 没有回应这次写入；我重新读取了对象，确认改动已经生效。",
            "The Kubernetes API did not answer the write; I read the object back and the change is in effect{e}.",
            e=_evidence(lang, settled),
        ),
        Tone.INFO,
    )


def not_applied_card(lang: Lang | str, rec: ApprovalRecord, settled: Settled) -> Card:
    return Card(
        title=tr(lang, "未生效：{t}", "Not applied: {t}", t=rec.call.tool),
        tone=Tone.DANGER,
        blocks=(
            *cards.change_blocks(lang, rec)[:1],
            Markdown(
                tr(
                    lang,
                    "这次改动没有得到 Kubernetes API 的回应；重新读取对象后确认它**没有生效**，集群没有改变。需要的话请重新发起。",
                    "The Kubernetes API did not answer this change; reading the object back shows it did **not** "
                    "take effect{e}, so nothing changed. Ask again if it is still needed.",
                    e=_evidence(lang, settled),
                )
            ),
        ),
        footer=tr(lang, "审批号 {id}", "approval {id}", id=rec.id[:8]),
        meta={"approval_id": rec.id},
    )


def unknown_card(lang: Lang | str, rec: ApprovalRecord, settled: Settled, *, running: bool = False) -> Card:
    if running:
        text = tr(
            lang,
            "这个改动正在执行，还没有结果。稍后点「再检查一次」查看是否已生效。",
            "This change is being run and has no result yet. Click “Check again” shortly to see whether it took "
            "effect.",
        )
    else:
        text = tr(
            lang,
            "结果未知：Kubernetes API 没有回应，重新读取对象也无法确认改动是否生效。请点「再检查一次」，或在重试之前用 kubectl 查看。",
            "Outcome unknown: the Kubernetes API did not answer, and reading the object back could not tell "
            "whether the change took effect{e}. Click “Check again”, or check with kubectl before retrying.",
            e=_evidence(lang, settled),
        )
    return Card(
        title=tr(lang, "结果未知：{t}", "Outcome unknown: {t}", t=rec.call.tool),
        tone=Tone.WARNING,
        blocks=(*cards.change_blocks(lang, rec)[:1], Markdown(text)),
        buttons=(
            Button(tr(lang, "再检查一次", "Check again"), Action(cards.CONFIRM, {"id": rec.id}), ButtonStyle.PRIMARY),
        ),
        footer=tr(lang, "审批号 {id}", "approval {id}", id=rec.id[:8]),
        meta={"approval_id": rec.id},
    )


def settled_card(lang: Lang | str, rec: ApprovalRecord, settled: Settled, outcome: ToolOutcome | None, by: str) -> Card:
    """The card for any outcome: the API's own answer when there was one, else what the read-back found."""
    if settled.status == EXECUTED:
        answered = outcome is not None and outcome.ok
        card = cards.outcome_card(
            lang,
            rec,
            ok=True,
            by=by,
            detail=outcome.data if answered and outcome else None,
            text=outcome.text if answered and outcome else "",
        )
        return card if not settled.verified else replace(card, blocks=(verified_note(lang, settled), *card.blocks))
    if settled.status == FAILED and settled.verified:
        return not_applied_card(lang, rec, settled)
    if settled.status == FAILED:
        error = (outcome.error if outcome is not None else None) or settled.result
        return cards.outcome_card(lang, rec, ok=False, by=by, detail=None, text=error)
    return unknown_card(lang, rec, settled, running=settled.status in IN_FLIGHT)
