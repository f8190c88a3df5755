"""Results sized to the platform, with pages: a logs card carries as many lines as its card can (measured on the
wire, `bot.render.paging`) with Older/Newer buttons over a stored snapshot of the lines; pod and event lists get
Previous/Next pages to their end (from the cached listing) and a hint of the filters that narrow them.

Every page click is a read again: the clicker passes the same policy check as the first reader.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pydantic import ValidationError

from bot.conversation import nextsteps
from bot.conversation.base import EngineBase
from bot.conversation.flowcards import error_card, request_title
from bot.conversation.turn import Turn
from bot.core.actions import Action
from bot.core.i18n import Lang, tr
from bot.render import paging
from bot.render.logview import log_page
from bot.render.model import Block, Button, Card, Markdown, Note
from bot.render.views import event_columns, event_rows, pod_blocks, table, tone_of, warnings_first
from bot.tooling.types import ToolCall, ToolInfo
from tools.k8s import models as m

log = logging.getLogger(__name__)

SNAPSHOT_TTL = 3600  # seconds a logs card's lines stay pageable
LIST_READ_LIMIT = {"list_pods": 2000, "list_events": 500}  # the tools' own maxima: pages run to the real end
PAGED_LISTS = ("list_pods", "list_events")
MAX_BUTTONS = 8


class Paging(EngineBase):
    # ------------------------------------------------------------------ where the card goes
    def budget(self, turn: Turn) -> paging.Budget:
        conv = turn.caller.conversation
        return paging.Budget(
            platform=conv.platform.value,
            sign=lambda action: self.codec.encode(action, conv.chat_key),
            lang=turn.lang,
            conversation_id=conv.chat_id,
            is_group=conv.is_group,
        )

    async def replace(self, turn: Turn, card: Card) -> None:
        """A page replaces the clicked card in place; where that is refused (Feishu's edit cap per message) or
        there is no clicked card, it comes as a new card."""
        ref = turn.message_ref
        if ref is not None:
            try:
                await turn.responder.update(ref, card)
                return
            except Exception:  # the platform refused the edit (Feishu's cap per message): the page still gets shown
                log.info("page update of %s refused; sending a new card", ref, exc_info=True)
        await self.send(turn, card)

    # ------------------------------------------------------------------ first display (from Running._execute)
    async def paged_result(
        self, turn: Turn, info: ToolInfo, args: dict[str, Any], data: dict[str, Any] | None, *, crashing: bool
    ) -> bool:
        """Show a logs or list result paged for the platform. False: not one of ours (the caller shows it)."""
        if data is None:
            return False
        try:
            if info.name == "pod_logs":
                result = m.LogResult.model_validate(data)
                await self._first_logs(turn, info, args, result, crashing=crashing)
                return True
            if info.name in PAGED_LISTS:
                await self.send(turn, self._list_card(turn, info, args, data, 0, forward=True))
                return True
        except ValidationError:  # an external tool reusing the name: the generic view shows it
            return False
        return False

    # ------------------------------------------------------------------ logs
    async def _first_logs(
        self, turn: Turn, info: ToolInfo, args: dict[str, Any], r: m.LogResult, *, crashing: bool
    ) -> None:
        budget = self.budget(turn)
        snap = uuid.uuid4().hex[:16]
        card, (start, end) = self._log_card(turn, info, args, r, budget, snap, end=len(r.lines), crashing=crashing)
        if start > 0 or end < len(r.lines):  # more than one page: keep the lines for Older/Newer
            doc = {"args": args, "data": r.model_dump(mode="json"), "crashing": crashing}
            await self.store.set_json(self.store.keys.page_snapshot(snap), doc, SNAPSHOT_TTL)
        await self.send(turn, card)

    def _log_card(
        self,
        turn: Turn,
        info: ToolInfo,
        args: dict[str, Any],
        r: m.LogResult,
        budget: paging.Budget,
        snap: str,
        *,
        end: int | None = None,
        start: int | None = None,
        crashing: bool = False,
    ) -> tuple[Card, tuple[int, int]]:
        lang = turn.lang
        asked = args.get("tail_lines") if isinstance(args.get("tail_lines"), int) else 100
        extra, notes = nextsteps.next_steps(info.name, args, r.model_dump(mode="json"), lang, crashing=crashing)

        def build(a: int, b: int) -> Card:
            blocks: list[Block] = [*log_page(r, lang, a, b, asked=asked), *notes]
            buttons: list[Button] = list(extra)  # the next steps first: a crash's previous logs lead
            if a > 0:
                buttons.append(Button(tr(lang, "‹ 更早", "‹ Older"), Action("logpage", {"s": snap, "e": a})))
            if b < len(r.lines):
                buttons.append(Button(tr(lang, "更新 ›", "Newer ›"), Action("logpage", {"s": snap, "b": b})))
            if not r.previous:
                buttons.append(Button(tr(lang, "跟踪", "Follow"), follow_action(args, r)))
            return Card(
                title=request_title(lang, info, args),
                blocks=tuple(blocks),
                buttons=tuple(buttons[:MAX_BUTTONS]),
                tone=tone_of(info.name, None),
            )

        total = len(r.lines)
        if budget.unlimited:
            window = (0, total)  # the terminal shows every line asked for
        elif start is not None:
            window = paging.window_forward(start, total, lambda a, b: paging.fits(build(a, b), budget))
            if window[1] >= total:  # reached the newest: the newest full window, as the first card showed
                window = paging.window_back(total, lambda a, b: paging.fits(build(a, b), budget))
        else:
            stop = total if end is None else max(0, min(end, total))
            window = paging.window_back(stop, lambda a, b: paging.fits(build(a, b), budget))
        return build(*window), window

    async def on_logpage(self, turn: Turn, a: dict[str, Any]) -> None:
        lang = turn.lang
        doc = await self.store.get_json(self.store.keys.page_snapshot(str(a["s"])))
        info = self.tools.info("pod_logs")
        if not isinstance(doc, dict) or info is None:
            await turn.responder.toast(
                tr(
                    lang,
                    "这些日志已过期，请重新查看日志。",
                    "These log lines have expired; please ask for the logs again.",
                )
            )
            return
        args = dict(doc.get("args") or {})
        verdict = await self.gate.check_read(turn.caller, ToolCall("pod_logs", args), info, lang)
        if not verdict.allowed:
            await turn.responder.toast(verdict.reason or tr(lang, "没有权限。", "Not allowed."))
            return
        r = m.LogResult.model_validate(doc.get("data"))
        budget = self.budget(turn)
        crashing = bool(doc.get("crashing"))
        if "b" in a:
            card, _ = self._log_card(turn, info, args, r, budget, str(a["s"]), start=int(a["b"]), crashing=crashing)
        else:
            card, _ = self._log_card(turn, info, args, r, budget, str(a["s"]), end=int(a["e"]), crashing=crashing)
        await self.replace(turn, card)

    # ------------------------------------------------------------------ lists
    def _list_card(
        self, turn: Turn, info: ToolInfo, args: dict[str, Any], data: dict[str, Any], at: int, *, forward: bool
    ) -> Card:
        lang = turn.lang
        budget = self.budget(turn)
        items = [i for i in data.get("items", []) if isinstance(i, dict)]
        if info.name == "list_events":
            events = warnings_first([m.EventInfo.model_validate(i) for i in items])
            items = [e.model_dump(mode="json") for e in events]
        total = max(int(data.get("total") or 0), len(items))
        extra, notes = nextsteps.next_steps(info.name, args, data, lang)
        base = {"t": info.name, "a": {k: v for k, v in args.items() if k != "limit"}}

        def build(a: int, b: int) -> Card:
            blocks: list[Block] = [*self._rows(info.name, data, items[a:b], lang, args), *notes]
            buttons: list[Button] = []
            if a > 0:
                buttons.append(Button(tr(lang, "‹ 上一页", "‹ Previous"), Action("listpage", {**base, "e": a})))
            if b < total:
                buttons.append(Button(tr(lang, "下一页 ›", "Next ›"), Action("listpage", {**base, "s": b})))
            if a > 0 or b < total:
                blocks.append(Note(page_note(lang, info.name, a, b, total, args)))
            buttons.extend(extra)
            return Card(
                title=request_title(lang, info, args),
                blocks=tuple(blocks),
                buttons=tuple(buttons[:MAX_BUTTONS]),
                tone=tone_of(info.name, {**data, "items": items[a:b]}),
            )

        def ok(a: int, b: int) -> bool:
            return b - a <= paging.MAX_TABLE_ROWS and paging.fits(build(a, b), budget)

        if budget.unlimited:
            rows = paging.MAX_TABLE_ROWS  # the terminal: a screenful per page
            a, b = (at, min(len(items), at + rows)) if forward else (max(0, at - rows), at)
        elif forward:
            a, b = paging.window_forward(min(at, len(items)), len(items), ok)
        else:
            a, b = paging.window_back(min(at, len(items)), ok)
        if b <= a and total > 0:
            a, b = max(0, min(a, len(items) - 1)), len(items)
        return build(a, b)

    def _rows(
        self, tool: str, data: dict[str, Any], items: list[dict[str, Any]], lang: Lang, args: dict[str, Any]
    ) -> list[Block]:
        if tool == "list_pods":
            page = m.PodList.model_validate({**data, "items": items, "total": len(items), "truncated": False})
            return pod_blocks(page, lang, max_rows=len(items) or 1)
        if not items:
            return [Markdown(tr(lang, "没有相关事件。", "No events."))]
        events = [m.EventInfo.model_validate(i) for i in items]
        return [table(lang, event_columns(lang), event_rows(events), wide_last=True, max_rows=len(events))]

    async def on_listpage(self, turn: Turn, a: dict[str, Any]) -> None:
        lang = turn.lang
        tool = str(a["t"])
        info = self.tools.info(tool)
        if info is None or tool not in PAGED_LISTS:
            await turn.responder.toast(tr(lang, "这个按钮已失效。", "This button is no longer valid."))
            return
        args = dict(a.get("a") or {})
        call = ToolCall(tool, {**args, "limit": LIST_READ_LIMIT[tool]})
        out = await self.tools.read(turn.caller, call, lang, cached=True)  # the same listing for every page
        if not out.ok or not isinstance(out.data, dict):
            await self.send(turn, error_card(lang, info, out))
            return
        if "s" in a:
            card = self._list_card(turn, info, args, out.data, int(a["s"]), forward=True)
        else:
            card = self._list_card(turn, info, args, out.data, int(a["e"]), forward=False)
        await self.replace(turn, card)


def follow_action(args: dict[str, Any], r: m.LogResult) -> Action:
    """The Follow button of a logs card: the same pod and container, followed live."""
    keep = {k: args[k] for k in ("cluster",) if args.get(k)}
    return Action("follow", {**keep, "namespace": r.namespace, "pod": r.pod, "container": r.container})


def page_note(lang: Lang, tool: str, a: int, b: int, total: int, args: dict[str, Any]) -> str:
    """Where this page is, and (on a long pod list) how to narrow it instead of paging."""
    ns = args.get("namespace") or "dev"
    if tool == "list_events":
        return tr(
            lang,
            "第 {a}-{b} 条，共 {t} 条（告警在前）。只看一个对象的：`/events {ns} 对象名`。",
            "Events {a}-{b} of {t} (warnings first). One object's only: `/events {ns} NAME`.",
            a=a + 1,
            b=b,
            t=total,
            ns=ns,
        )
    where = tr(lang, "第 {a}-{b} 个，共 {t} 个 Pod。", "Pods {a}-{b} of {t}.", a=a + 1, b=b, t=total)
    hint = tr(
        lang,
        "缩小范围：`/pods {ns} 名字片段`，只看异常的：`/pods {ns} --failing`。",
        "Narrow it: `/pods {ns} NAME-PART`, or only the failing ones: `/pods {ns} --failing`.",
        ns=ns,
    )
    return f"{where} {hint}"


__all__ = ["PAGED_LISTS", "Paging", "follow_action", "page_note"]
