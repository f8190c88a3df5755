"""Slot filling: fill what can be filled, ask for the next missing parameter (with choices from the cluster),
understand a typed answer, page through choices. Mutations only ever get explicitly chosen or exact targets."""

from __future__ import annotations

import logging
import re

from bot.conversation.base import OBJECT_SLOTS, PAGE_SIZE, EngineBase
from bot.conversation.flowcards import (
    int_bounds,
    what_label,
)
from bot.conversation.parser import (
    Intent,
    Kind,
)
from bot.conversation.slots import (
    FREE_HINT_PARAMS,
    filter_hint,
    is_integer,
    match_answer,
    meaning,
    missing,
    valid_name,
)
from bot.conversation.state import MAX_OPTIONS, Flow
from bot.conversation.texts import (
    notice_card,
    question_card,
)
from bot.conversation.turn import Turn
from bot.conversation.understand import did_you_mean
from bot.core.i18n import tr
from bot.render.model import Tone
from bot.tooling.types import ToolInfo

log = logging.getLogger(__name__)


class SlotFilling(EngineBase):
    # ------------------------------------------------------------------ slot filling
    async def _advance(self, turn: Turn, flow: Flow, depth: int = 0) -> None:
        """Fill what can be filled, ask for the next missing parameter, or run the call."""
        lang = turn.lang
        info = self.tools.info(flow.tool)
        if info is None or depth > 8:
            turn.state.flow = None
            await self.send(turn, notice_card(lang, tr(lang, "无法继续", "Can't continue"), flow.tool, Tone.WARNING))
            return
        for p in info.properties:
            if (info.name, p) in FREE_HINT_PARAMS and flow.args.get(p) is None and flow.hints.get(p):
                if info.name != "list_events":  # event object names are exact; the hint filters the result instead
                    flow.args[p] = flow.hints[p]
        # validate what we have: a bad name or a namespace that doesn't exist is said clearly, then asked again
        bad: list[str] = []
        for p in list(flow.args):
            what = meaning(info, p)
            value = flow.args[p]
            if what and isinstance(value, str) and not valid_name(what, value):
                flow.args.pop(p)
                bad.append(p)
                turn.notes.append(
                    tr(
                        lang,
                        "`{v}` 不是合法的{w}名（只能用小写字母、数字和 -）。",
                        "`{v}` is not a valid {w} name (lower-case letters, digits and '-').",
                        v=value[:80],
                        w=what_label(lang, what),
                    )
                )
        for p in list(flow.args):
            value = flow.args[p]
            if isinstance(value, bool) or not isinstance(value, int) or not is_integer(info, p):
                continue
            lo, hi = int_bounds(info.properties.get(p, {}))
            if (lo is None or value >= lo) and (hi is None or value <= hi):
                continue
            span = tr(
                lang, "{a} 到 {b}", "{a} to {b}", a=lo if lo is not None else "-∞", b=hi if hi is not None else "∞"
            )
            if p in info.required:  # a number the change depends on (replicas): ask again, never guess
                flow.args.pop(p)
                bad.append(p)
                turn.notes.append(
                    tr(
                        lang,
                        "`{p}` 必须在 {s} 之间（你给的是 {v}）。",
                        "`{p}` must be {s} (you gave {v}).",
                        p=p,
                        s=span,
                        v=value,
                    )
                )
            else:  # an optional size (tail lines): the nearest allowed value is what was meant
                flow.args[p] = max(lo, value) if lo is not None and value < lo else hi
                turn.notes.append(
                    tr(
                        lang,
                        "`{p}` 必须在 {s} 之间，已按 {n} 处理。",
                        "`{p}` must be {s}; using {n}.",
                        p=p,
                        s=span,
                        n=flow.args[p],
                    )
                )
        ns = flow.args.get("namespace")
        if isinstance(ns, str) and "namespace" in info.properties:
            known = await self._names(turn, flow, "namespace")
            if known is not None and ns not in known:
                fresh = await self._names(turn, flow, "namespace", fresh=True)
                if fresh is not None and ns not in fresh:
                    flow.args.pop("namespace")
                    for p in OBJECT_SLOTS:
                        if p in flow.args and p not in flow.hints:
                            flow.hints[p] = str(flow.args.pop(p))
                    turn.notes.append(
                        tr(lang, "命名空间 `{n}` 不存在。", "Namespace `{n}` does not exist.", n=ns)
                        + did_you_mean(lang, ns, fresh)
                    )
                    bad.append("namespace")
        if bad:
            await self.ask(turn, flow, bad[0], full=True, depth=depth)
            return
        need = missing(info, flow.args)
        obj_hint = self._object_hint(flow)
        if (
            not need
            and "namespace" in info.properties
            and not flow.args.get("namespace")
            and info.name == "list_events"
            and obj_hint
        ):
            need = ["namespace"]  # "payment-api's events": find where it lives first
        if not need and info.mutates and not await self._exists(turn, flow, info):
            return
        if not need:
            await self._execute(turn, flow)
            return
        await self.ask(turn, flow, need[0], depth=depth)

    async def _exists(self, turn: Turn, flow: Flow, info: ToolInfo) -> bool:
        """A change's typed object ("/delete pod payment-api") that is not a full name: offer the names it is part of
        (a preview of a change to nothing would only fail). True: every object exists as named."""
        for p in ("pod", "deployment", "statefulset"):
            value = flow.args.get(p)
            if not isinstance(value, str) or meaning(info, p) != p or not flow.args.get("namespace"):
                continue
            names = await self._names(turn, flow, p)
            if names is None or value in names or not filter_hint(names, value):
                continue  # unreadable, exact, or nothing like it: the preview says what is wrong
            flow.args.pop(p)
            flow.hints[p] = value
            await self.ask(turn, flow, p)
            return False
        return True

    async def ask(
        self, turn: Turn, flow: Flow, slot: str, *, full: bool = False, page: int = 0, depth: int = 0
    ) -> None:
        lang = turn.lang
        info = self.tools.info(flow.tool)
        if info is None:
            turn.state.flow = None
            return
        what = meaning(info, slot)
        hint = flow.hints.get(slot)
        flow.slot, flow.page = slot, page
        intro = ""
        if what is None:
            offered: list[str] = []
            if (info.name, slot) == ("workload_health", "name") and flow.args.get("namespace"):
                # a free name prefix, but the namespace's deployments are the likely answers: offer them
                offered = await self._names(turn, flow, "deployment") or []
            flow.options, flow.complete = offered[:MAX_OPTIONS], False
            turn.state.flow = flow
            await self.send(turn, question_card(lang, info, flow, slot, None, flow.options, page, PAGE_SIZE, ""))
            return
        # "/logs orders --previous": a typed object name also says where to look
        obj_hint = self._object_hint(flow) or next(
            (str(flow.args[p]) for p in ("pod", "deployment", "statefulset") if isinstance(flow.args.get(p), str)), None
        )
        if what == "namespace" and obj_hint and not full:
            located = await self._locate(turn, flow, obj_hint)
            if located:
                flow.options, flow.complete = located, False
                turn.state.flow = flow
                kind = "Deployment" if flow.hints.get("deployment") and not flow.hints.get("pod") else "Pod"
                intro = tr(
                    lang,
                    "我在命名空间 {ns} 里找到了名字包含 `{h}` 的 {k}，你也可以选别的命名空间。",
                    "I found {k}s matching `{h}` in namespace {ns}; you can still pick another one.",
                    ns=", ".join(f"`{n}`" for n in located[:5]),
                    h=obj_hint,
                    k=kind,
                )
                await self.send(turn, question_card(lang, info, flow, slot, what, located, 0, PAGE_SIZE, intro))
                return
        names = await self._names(turn, flow, what, hint=hint if what == "pod" else None)
        if names is None:
            turn.state.flow = None
            await self.send(turn, notice_card(lang, tr(lang, "查询失败", "Lookup failed"), "", Tone.DANGER))
            return
        if not names and what in ("pod", "deployment", "statefulset", "container") and flow.args.get("namespace"):
            if hint and what == "pod":
                names = await self._names(turn, flow, what)  # nothing matched the hint: offer them all
                names = names or []
            if not names:
                # maybe the namespace (from a cached choice) is gone: check fresh before saying "empty"
                ns = str(flow.args["namespace"])
                fresh = await self._names(turn, flow, "namespace", fresh=True)
                if fresh is not None and ns not in fresh and depth < 3:
                    flow.args.pop("namespace")
                    turn.notes.append(
                        tr(
                            lang,
                            "命名空间 `{n}` 已经不存在了，这是最新的列表。",
                            "Namespace `{n}` no longer exists; here is the current list.",
                            n=ns,
                        )
                    )
                    await self.ask(turn, flow, "namespace", full=True, depth=depth + 1)
                    return
                turn.state.flow = None
                await self.send(
                    turn,
                    notice_card(
                        lang,
                        tr(lang, "没有可选项", "Nothing to choose"),
                        tr(
                            lang,
                            "命名空间 `{n}` 里没有{w}。",
                            "There is no {w} in namespace `{n}`.",
                            n=ns,
                            w=what_label(lang, what),
                        ),
                    ),
                )
                return
        options = names
        if hint and what != "namespace":
            filtered = filter_hint(names, hint)
            if filtered:
                options = filtered
                exact = hint in names
                # one match: a read runs it; a change proposes it, and its confirmation card names it exactly
                if len(filtered) == 1:
                    flow.args[slot] = filtered[0]
                    await self._advance(turn, flow, depth + 1)
                    return
                if info.mutates and exact:
                    flow.args[slot] = hint
                    await self._advance(turn, flow, depth + 1)
                    return
            else:
                in_ns = flow.args.get("namespace")
                elsewhere: list[str] = []
                if isinstance(in_ns, str) and what in ("pod", "deployment"):
                    elsewhere = [n for n in await self._locate(turn, flow, hint) if n != in_ns]
                if elsewhere:  # "describe orders in dev" while orders lives in production: offer where it is
                    flow.args.pop("namespace")
                    flow.options, flow.complete, flow.slot, flow.page = elsewhere, False, "namespace", 0
                    turn.state.flow = flow
                    turn.notes.append(
                        tr(
                            lang,
                            "命名空间 `{ns}` 里没有名字包含 `{h}` 的{w}，但在 {where} 里有。",
                            "No {w} matches `{h}` in namespace `{ns}`, but there is one in {where}.",
                            ns=in_ns,
                            h=hint,
                            w=what_label(lang, what),
                            where=", ".join(f"`{n}`" for n in elsewhere[:5]),
                        )
                    )
                    await self.send(
                        turn, question_card(lang, info, flow, "namespace", "namespace", elsewhere, 0, PAGE_SIZE, "")
                    )
                    return
                turn.notes.append(
                    tr(
                        lang,
                        "没有找到名字包含 `{h}` 的{w}。",
                        "No {w} matches `{h}`.",
                        h=hint,
                        w=what_label(lang, what),
                    )
                )
        if not options:
            turn.state.flow = None
            await self.send(
                turn,
                notice_card(
                    lang,
                    tr(lang, "没有可选项", "Nothing to choose"),
                    tr(lang, "没有找到任何{w}。", "No {w} found.", w=what_label(lang, what)),
                ),
            )
            return
        flow.options, flow.complete = options[:MAX_OPTIONS], True
        turn.state.flow = flow
        await self.send(turn, question_card(lang, info, flow, slot, what, flow.options, page, PAGE_SIZE, intro))

    async def _answer(self, turn: Turn, flow: Flow, text: str, intent: Intent) -> bool:
        """A typed answer to the question being asked. False: the text is a new request instead."""
        lang = turn.lang
        info = self.tools.info(flow.tool)
        slot = flow.slot
        if info is None or slot is None:
            return False
        what = meaning(info, slot)
        same = intent.kind is Kind.TOOL and intent.tool == flow.tool and not intent.args and not intent.hints
        new_request = intent.kind in (
            Kind.HELP,
            Kind.RESET,
            Kind.REFRESH,
            Kind.CANCEL,
            Kind.SWITCH,
            Kind.REFUSE,
            Kind.TOO_LONG,
        ) or (intent.kind is Kind.TOOL and not same)
        if new_request and intent.kind is not Kind.TOOL:
            return False
        # "在 dev 命名空间" names the kind being asked ("命名空间") and is an answer; "production 有哪些 pod"
        # asks another tool and is a new request, which always wins over the pending question
        answer_like = intent.kind is Kind.TOOL and intent.tool == _LISTER.get(what or "")
        if new_request and not answer_like and intent.tool != flow.tool:
            return False
        said_ns = intent.args.get("namespace")
        obj = slot if what not in (None, "namespace") else None
        if what == "namespace":
            obj = next((p for p in missing(info, flow.args) if p != slot and p in OBJECT_SLOTS), None)
        if (
            intent.kind is Kind.NONE
            and isinstance(said_ns, str)
            and intent.words
            and obj
            and "namespace" in info.properties
        ):
            # "dev 里的 payment-api" / "payment-api，在 dev 里": the namespace and the name, answered at once
            flow.args["namespace"] = said_ns
            flow.hints[obj] = intent.words[0]
            flow.args.pop(obj, None)
            flow.answered.append("namespace")
            await self._advance(turn, flow)
            return True
        if (
            intent.kind is Kind.TOOL
            and intent.tool == flow.tool
            and intent.args
            and not intent.hints
            and not (intent.refers and turn.state.memory.pod)
        ):
            # "上一次的日志" / "last 50 lines" while still choosing: the same request, refined; keep its answers
            flow.args.update(intent.args)
            await self._advance(turn, flow)
            return True
        if is_integer(info, slot):
            m = re.search(r"-?\d+", text)
            if m and not new_request:
                flow.args[slot] = int(m.group(0))
                await self._advance(turn, flow)
                return True
            if new_request:
                return False
            turn.notes.append(tr(lang, "请给一个数字。", "Please give a number."))
            await self.ask(turn, flow, slot)
            return True
        # a free value (workload name prefix) only takes an offered option when named exactly or by position
        # positions ("第二个", "2") count from the first button of the page being shown
        start = flow.page * PAGE_SIZE if 0 < flow.page * PAGE_SIZE < len(flow.options) else 0
        shown_first = flow.options[start:] + flow.options[:start]
        match = match_answer(text, shown_first, exact_only=info.mutates or what is None)
        # "在 dev 命名空间" is an answer even though it mentions namespaces; "dev 里有哪些 pod" is a new request
        short = len(text.split()) <= 3 and len(text) <= 24
        if match.value and (not new_request or short):
            flow.args[slot] = match.value
            flow.answered.append(slot)
            await self._advance(turn, flow)
            return True
        if new_request:
            return False
        if match.ambiguous:
            flow.options, flow.complete = list(match.ambiguous), False
            turn.notes.append(
                tr(lang, "有好几个符合 `{w}`，请选一个：", "Several match `{w}`; pick one:", w=match.word or "")
            )
            await self.send(turn, question_card(lang, info, flow, slot, what, flow.options, 0, PAGE_SIZE, ""))
            return True
        word = match.word
        if word and what is None:
            flow.args[slot] = word
            await self._advance(turn, flow)
            return True
        if word and what is not None:
            if not valid_name(what, word):
                turn.notes.append(tr(lang, "`{v}` 不是合法的名字。", "`{v}` is not a valid name.", v=word[:80]))
                await self.reask(turn, flow, slot)
                return True
            names = await self._names(turn, flow, what, fresh=not flow.complete)
            if names is not None and word in names:
                flow.args[slot] = word
                await self._advance(turn, flow)
                return True
            if names is not None and not info.mutates:
                hits = filter_hint(names, word)
                if len(hits) == 1:
                    flow.args[slot] = hits[0]
                    await self._advance(turn, flow)
                    return True
                if hits:
                    flow.options, flow.complete = hits[:MAX_OPTIONS], False
                    await self.send(turn, question_card(lang, info, flow, slot, what, flow.options, 0, PAGE_SIZE, ""))
                    return True
            obj = next((p for p in missing(info, flow.args) if p != slot and p in OBJECT_SLOTS), None)
            if what == "namespace" and obj is not None and not flow.hints.get(obj):
                # "/logs" -> "which namespace?" -> "cart-service": a name of what is wanted, so find where it is
                flow.hints[obj] = word
                await self._advance(turn, flow)
                return True
            where = f" `{flow.args['namespace']}`" if what != "namespace" and flow.args.get("namespace") else ""
            turn.notes.append(
                tr(
                    lang,
                    "{w} `{v}` 不存在{where}。" if not where else "命名空间{where}里没有{w} `{v}`。",
                    "There is no {w} `{v}`{where}." if not where else "There is no {w} `{v}` in namespace{where}.",
                    w=what_label(lang, what),
                    v=word,
                    where=where,
                )
                + did_you_mean(lang, word, names or [])
            )
            if info.mutates:
                turn.notes.append(
                    tr(
                        lang,
                        "修改操作需要准确的名字：请点按钮或输入完整名字。",
                        "Changes need the exact name: press a button or type it in full.",
                    )
                )
            await self.reask(turn, flow, slot)
            return True
        turn.notes.append(
            tr(
                lang,
                "没看懂这个回答，请点一个按钮或直接输入名字。",
                "I didn't get that; press a button or type the name.",
            )
        )
        await self.reask(turn, flow, slot)
        return True

    async def more(self, turn: Turn, flow: Flow, slot: str) -> None:
        """ "more" / "下一页" typed at a question: the next page of its choices (like the More button)."""
        info = self.tools.info(flow.tool)
        if info is None:
            return
        page = flow.page + 1
        if not flow.complete and page * PAGE_SIZE >= len(flow.options):  # a shortlist ("found it in dev"): all
            await self.ask(turn, flow, slot, full=True)
            return
        if page * PAGE_SIZE >= len(flow.options):
            page = 0
            turn.notes.append(
                tr(turn.lang, "已经是全部选项了，这是第一页。", "That's all of them; here is the first page again.")
            )
        flow.page = page
        await self.send(
            turn, question_card(turn.lang, info, flow, slot, meaning(info, slot), flow.options, page, PAGE_SIZE, "")
        )

    async def reask(self, turn: Turn, flow: Flow, slot: str) -> None:
        info = self.tools.info(flow.tool)
        if info is None:
            return
        if flow.options:
            await self.send(
                turn,
                question_card(turn.lang, info, flow, slot, meaning(info, slot), flow.options, 0, PAGE_SIZE, ""),
            )
        else:
            await self.ask(turn, flow, slot, full=True)


# The listing a question's kind of answer comes from: "在 dev 命名空间" names the kind, it is not a new request
_LISTER = {
    "namespace": "list_namespaces",
    "pod": "list_pods",
    "deployment": "list_deployments",
    "node": "list_nodes",
    "cluster": "list_clusters",
}
