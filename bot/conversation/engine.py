"""The conversation engine: the handler the dispatcher calls for every inbound event.

Per event: take the conversation's lock, THEN load its state (lost updates otherwise), route (card action,
slash command, the active guided flow, the LLM planner or the rule parser), save the state with its TTL.
Reads run through the gate's read check; mutations only ever end in `gate.propose` with every target
explicitly chosen or typed exactly.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.agent.port import AgentTurn, Planner
from bot.approvals.port import Caller, Gate
from bot.conversation import nextsteps
from bot.conversation.parser import (
    STOP,
    Intent,
    Kind,
    is_list_request,
    is_more_request,
    is_quick,
    normalize,
    parse,
    parse_slash,
)
from bot.conversation.progress import ProgressResponder
from bot.conversation.slots import (
    FREE_HINT_PARAMS,
    extract,
    filter_hint,
    is_integer,
    match_answer,
    meaning,
    missing,
    namespaces_of,
    source,
    valid_name,
)
from bot.conversation.state import MAX_OPTIONS, ConvState, Flow
from bot.conversation.texts import (
    cancelled_card,
    help_card,
    notice_card,
    plan_card,
    question_card,
    source_status_card,
    welcome_card,
)
from bot.conversation.toolbox import Toolbox
from bot.core.actions import ActionCodec, InvalidPayload, PayloadError
from bot.core.dispatcher import event_lang
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent, state_key
from bot.core.i18n import Lang, detect_lang, tr
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render.model import Block, Button, ButtonStyle, Card, Markdown, Note, Tone
from bot.render.views import error_blocks, result_blocks, tone_of
from bot.store import LockTimeout, Store
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
PAGE_SIZE = 8
MAX_LISTED = 20  # pod-list rows remembered for "第二个的日志" (the card shows at most 20)
OBJECT_SLOTS = ("pod", "deployment", "statefulset", "node", "container", "name")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Turn:
    """Everything one event's handling needs."""

    caller: Caller
    state: ConvState
    responder: Responder
    lang: Lang
    notes: list[str] = field(default_factory=list)  # said before the next card (e.g. "X no longer exists")


class Engine:
    def __init__(
        self,
        *,
        store: Store,
        toolbox: Toolbox,
        gate: Gate,
        codec: ActionCodec,
        planner: Planner | None = None,
        state_ttl: int = 24 * 3600,
        tracker: TaskTracker | None = None,
        progress_after: float = 1.0,
        select_tools: Callable[[str, list[ToolInfo]], list[ToolInfo]] | None = None,
        lock_wait: float = 10.0,
    ) -> None:
        self.store = store
        self.tools = toolbox
        self.gate = gate
        self.codec = codec
        self.planner = planner
        self.state_ttl = state_ttl
        self.tracker = tracker
        self.progress_after = progress_after
        self.select_tools = select_tools
        self.lock_wait = lock_wait

    # ------------------------------------------------------------------ entry
    async def __call__(self, event: InboundEvent, responder: Responder) -> None:
        key = state_key(event.conversation, event.sender)
        try:
            await self._locked(key, event, responder)
        except LockTimeout:
            # another replica is still on this conversation: say so instead of a generic error
            lang = event_lang(event)
            await responder.send(
                notice_card(
                    lang,
                    tr(lang, "稍等", "One moment"),
                    tr(
                        lang,
                        "我还在处理你的上一条消息，请稍后再发。",
                        "I'm still on your previous message; please send this again shortly.",
                    ),
                    Tone.WARNING,
                )
            )

    async def _locked(self, key: str, event: InboundEvent, responder: Responder) -> None:
        async with self.store.lock(self.store.keys.conv_lock(key), wait=self.lock_wait):
            state = await self._load(key)
            lang = self._lang(event, state)
            state.lang = lang.value
            progress = ProgressResponder(responder, lang, delay=self.progress_after, tracker=self.tracker)
            turn = Turn(Caller(event.conversation, event.sender), state, progress, lang)
            progress.start()
            try:
                if isinstance(event, CardActionEvent):
                    await self._on_action(turn, event)
                else:
                    await self._on_message(turn, event.text)
            finally:
                await progress.stop()
                await self._save(key, state)

    async def _load(self, key: str) -> ConvState:
        raw = await self.store.get_json(self.store.keys.state(key))
        if isinstance(raw, dict):
            try:
                return ConvState.model_validate(raw)
            except ValidationError:
                log.warning("dropping unreadable state of %s", key)
        return ConvState()

    async def _save(self, key: str, state: ConvState) -> None:
        await self.store.set_json(self.store.keys.state(key), state.model_dump(mode="json"), self.state_ttl)

    def _lang(self, event: InboundEvent, state: ConvState) -> Lang:
        remembered = Lang(state.lang) if state.lang in ("zh", "en") else None
        if isinstance(event, MessageEvent):
            if event.lang is not None:
                return event.lang
            text = event.text.strip()
            if _CJK.search(text):
                return Lang.ZH
            # A bare name, a number or a slash command says nothing about the language: keep the user's.
            # An answer to a pending question ("dev", "cart-service v2") neither; an English sentence ("its
            # events", "the second one") does.
            sentence = any(w in STOP for w in normalize(text).split())
            if remembered and (
                text.startswith("/") or len(text.split()) <= 1 or (state.flow is not None and not sentence)
            ):
                return remembered
            return detect_lang(text, remembered or Lang.ZH)
        return remembered or Lang.ZH

    async def send(self, turn: Turn, card: Card) -> None:
        if turn.notes:
            notes = tuple(Note(n, Tone.WARNING) for n in turn.notes)
            card = Card(
                title=card.title,
                blocks=notes + card.blocks,
                buttons=card.buttons,
                tone=card.tone,
                footer=card.footer,
                input_hint=card.input_hint,
                meta=card.meta,
            )
            turn.notes.clear()
        await turn.responder.send(card)

    # ------------------------------------------------------------------ messages
    async def _on_message(self, turn: Turn, raw: str) -> None:
        text = raw.strip()
        lang = turn.lang
        if not text:
            await self.send(
                turn,
                notice_card(
                    lang,
                    tr(lang, "空消息", "Empty message"),
                    tr(
                        lang,
                        "我没收到任何内容。发送 /help 查看我能做什么。",
                        "I got an empty message. Send /help to see what I can do.",
                    ),
                ),
            )
            return
        if len(text) > MAX_MESSAGE_CHARS:
            await self.send(
                turn,
                notice_card(
                    lang,
                    tr(lang, "消息太长", "Message too long"),
                    tr(
                        lang,
                        "这条消息有 {n} 个字符，我最多处理 {m} 个。请说得简短一些，例如「看下 dev 里的 pod」。",
                        'That message has {n} characters; I handle at most {m}. Please keep it short, e.g. "pods in dev".',
                        n=len(text),
                        m=MAX_MESSAGE_CHARS,
                    ),
                    Tone.WARNING,
                ),
            )
            return
        turn.state.add_turn("user", text)
        if not turn.state.greeted:
            turn.state.greeted = True
            if not text.startswith("/help"):
                await self.send(turn, welcome_card(lang))
        if text.startswith("/"):
            await self._on_intent(turn, parse_slash(text), text)
            return
        flow = turn.state.flow
        if flow is not None and flow.slot is not None:
            if is_more_request(text):
                await self._more(turn, flow, flow.slot)
                return
            if is_list_request(text) and parse(text).kind is not Kind.TOOL:
                await self._ask(turn, flow, flow.slot, full=True)
                return
            if await self._answer(turn, flow, text):
                return
        intent = parse(text)
        # bot commands and quick-command labels are deterministic: never worth a model call
        fixed = intent.kind in (Kind.HELP, Kind.RESET, Kind.REFRESH, Kind.CANCEL, Kind.GREET) or is_quick(text)
        if self.planner is not None and not fixed:
            await self._llm(turn, text)
            return
        await self._on_intent(turn, intent, text)

    async def _on_intent(self, turn: Turn, intent: Intent, text: str) -> None:
        lang, st = turn.lang, turn.state
        kind = intent.kind
        if kind is Kind.HELP or kind is Kind.GREET:
            await self.send(turn, help_card(lang) if kind is Kind.HELP else welcome_card(lang))
        elif kind is Kind.RESET:
            await self._reset(turn)
        elif kind is Kind.REFRESH:
            await self._refresh(turn)
        elif kind is Kind.CANCEL:
            st.flow = None
            await self.send(turn, cancelled_card(lang))
        elif kind is Kind.USE_NS:
            await self._use_ns(turn, intent.value or "")
        elif kind is Kind.USE_CLUSTER:
            await self._use_cluster(turn, intent.value or "")
        elif kind is Kind.UNKNOWN_COMMAND:
            await self.send(
                turn,
                help_card(lang, tr(lang, "我不认识命令 `{c}`。", "I don't know the command `{c}`.", c=intent.value)),
            )
        elif kind is Kind.BAD_COMMAND:
            await self.send(
                turn,
                help_card(
                    lang,
                    tr(lang, "命令参数不对：`{c}`。", "Those command arguments don't work: `{c}`.", c=intent.value),
                ),
            )
        elif kind is Kind.TOOL and intent.tool:
            await self._start(turn, intent)
        elif kind is Kind.STATUS:
            await self._start(turn, Intent(Kind.TOOL, "cluster_overview", slash=True))
            sources = source_status_card(lang, self.tools.gateway)
            if sources is not None:
                await self.send(turn, sources)
        elif kind is Kind.AUDIT:
            await self.send(turn, await self.gate.audit_card(turn.caller, int(intent.value or 10), lang))
        else:
            await self.send(
                turn,
                help_card(
                    lang,
                    tr(
                        lang,
                        "没太明白「{t}」。可以试试下面的按钮，或者说「看下 dev 里的 pod」「cart-service 的日志」。",
                        'I didn\'t get "{t}". Try the buttons below, or say "pods in dev" or "logs of cart-service".',
                        t=text[:80],
                    ),
                ),
            )

    async def _start(self, turn: Turn, intent: Intent) -> None:
        assert intent.tool is not None
        info = self.tools.info(intent.tool)
        if info is None:
            await self.send(
                turn,
                notice_card(
                    turn.lang,
                    tr(turn.lang, "工具不可用", "Tool unavailable"),
                    tr(turn.lang, "`{t}` 现在不可用。", "`{t}` is not available right now.", t=intent.tool),
                    Tone.WARNING,
                ),
            )
            return
        args = dict(intent.args)
        hints = dict(intent.hints)
        mem = turn.state.memory
        if intent.position is not None and not info.mutates and mem.listed and "namespace" in info.properties:
            rows = mem.listed
            if intent.position == -1 or 1 <= intent.position <= len(rows):
                row_ns, row_pod = rows[intent.position - 1] if intent.position > 0 else rows[-1]
                key = "object_name" if info.name == "list_events" else "pod"
                if key in info.properties:  # "第二个的日志": the second row of the pod list just shown
                    args = {"namespace": row_ns, **args, key: row_pod}
        elif intent.refers and not mem.pod:
            turn.notes.append(
                tr(
                    turn.lang,
                    "我还不知道「它」指哪个 Pod（还没看过任何 Pod）。",
                    'I don\'t know which pod "it" is yet (none was shown so far).',
                )
            )
        if intent.refers and info.mutates:
            # "重启它": what was just shown becomes a hint; the exact target is still picked by the user
            workload = mem.deployment or _workload_of(mem.pod)
            if "deployment" in info.properties and workload and not hints.get("deployment"):
                hints["deployment"] = workload
            if "pod" in info.properties and mem.pod and not hints.get("pod"):
                hints["pod"] = mem.pod
        elif intent.refers and mem.pod:
            ns_args = {"namespace": mem.pod_namespace} if mem.pod_namespace else {}
            if intent.tool == "list_events":
                args = {**ns_args, **args, "object_name": mem.pod}
            elif "pod" in info.properties:
                args = {**ns_args, **args, "pod": mem.pod}
        if mem.cluster and "cluster" in info.properties and "cluster" not in args:
            args["cluster"] = mem.cluster
        if not info.mutates and intent.target and "namespace" in info.properties and "namespace" not in args:
            # "production 的事件" / "dev 的服务": the word is a namespace, not an object name
            probe = Flow(tool=info.name, args={k: v for k, v in args.items() if k == "cluster"})
            known = await self._names(turn, probe, "namespace")
            if known and intent.target in known:
                args["namespace"] = intent.target
                hints = {k: v for k, v in hints.items() if v != intent.target}
        if not info.mutates:
            # the user's pinned context fills reads; mutations always name their targets explicitly
            if mem.namespace and "namespace" in info.properties and "namespace" not in args:
                args["namespace"] = mem.namespace
        flow = Flow(tool=info.name, args=args, hints=hints, plan=intent.plan)
        turn.state.flow = flow
        await self._advance(turn, flow)

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
                        w=_what(lang, what),
                    )
                )
        for p in list(flow.args):
            value = flow.args[p]
            if isinstance(value, bool) or not isinstance(value, int) or not is_integer(info, p):
                continue
            lo, hi = _bounds(info.properties.get(p, {}))
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
                        + _did_you_mean(lang, ns, fresh)
                    )
                    bad.append("namespace")
        if bad:
            await self._ask(turn, flow, bad[0], full=True, depth=depth)
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
        if not need:
            await self._execute(turn, flow)
            return
        await self._ask(turn, flow, need[0], depth=depth)

    def _object_hint(self, flow: Flow) -> str | None:
        for p in ("pod", "deployment", "statefulset", "name", "object_name", "name_filter"):
            if flow.hints.get(p):
                return flow.hints[p]
        return None

    async def _names(
        self, turn: Turn, flow: Flow, what: str, *, hint: str | None = None, fresh: bool = False
    ) -> list[str] | None:
        """The names a parameter can take (cached listing unless `fresh`); None if the listing failed."""
        call = source(what, flow.args, hint)
        if call is None:
            return None
        if fresh:
            await self._forget_kind(call.tool)
        out = await self.tools.read(turn.caller, call, turn.lang, cached=True)
        if not out.ok:
            if out.error_code == "not_found" and what != "namespace" and call.args.get("namespace"):
                return []  # the namespace is gone (a stale choice): the caller checks and re-offers
            turn.notes.append(out.error or tr(turn.lang, "查询失败。", "The lookup failed."))
            return None
        if what == "pod":
            flow.crashing = nextsteps.crashing_pods(out.data)[:50]
            flow.containers = _single_containers(out.data)
        return extract(what, out.data)

    async def _forget_kind(self, tool: str) -> None:
        pattern = self.store.keys.cache(tool, "x").rsplit(":", 1)[0] + ":*"
        await self.store.delete_pattern(pattern)

    async def _locate(self, turn: Turn, flow: Flow, hint: str) -> list[str]:
        """Namespaces holding objects that match the hint (the "I found them in dev" help)."""
        if flow.hints.get("deployment") and not flow.hints.get("pod"):
            call = ToolCall("list_deployments", {k: v for k, v in flow.args.items() if k == "cluster"})
        else:
            call = ToolCall(
                "list_pods", {**{k: v for k, v in flow.args.items() if k == "cluster"}, "name_filter": hint}
            )
        out = await self.tools.read(turn.caller, call, turn.lang, cached=True)
        if not out.ok or not isinstance(out.data, dict):
            return []
        items = [i for i in out.data.get("items", []) if isinstance(i, dict) and hint in str(i.get("name", ""))]
        return namespaces_of({"items": items})

    async def _ask(
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
        obj_hint = self._object_hint(flow)
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
                    await self._ask(turn, flow, "namespace", full=True, depth=depth + 1)
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
                            w=_what(lang, what),
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
                if len(filtered) == 1 and (not info.mutates or exact):
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
                            w=_what(lang, what),
                            where=", ".join(f"`{n}`" for n in elsewhere[:5]),
                        )
                    )
                    await self.send(
                        turn, question_card(lang, info, flow, "namespace", "namespace", elsewhere, 0, PAGE_SIZE, "")
                    )
                    return
                turn.notes.append(
                    tr(lang, "没有找到名字包含 `{h}` 的{w}。", "No {w} matches `{h}`.", h=hint, w=_what(lang, what))
                )
        if not options:
            turn.state.flow = None
            await self.send(
                turn,
                notice_card(
                    lang,
                    tr(lang, "没有可选项", "Nothing to choose"),
                    tr(lang, "没有找到任何{w}。", "No {w} found.", w=_what(lang, what)),
                ),
            )
            return
        flow.options, flow.complete = options[:MAX_OPTIONS], True
        turn.state.flow = flow
        await self.send(turn, question_card(lang, info, flow, slot, what, flow.options, page, PAGE_SIZE, intro))

    async def _answer(self, turn: Turn, flow: Flow, text: str) -> bool:
        """A typed answer to the question being asked. False: the text is a new request instead."""
        lang = turn.lang
        info = self.tools.info(flow.tool)
        slot = flow.slot
        if info is None or slot is None:
            return False
        what = meaning(info, slot)
        intent = parse(text)
        same = intent.kind is Kind.TOOL and intent.tool == flow.tool and not intent.args and not intent.hints
        new_request = intent.kind in (Kind.HELP, Kind.RESET, Kind.REFRESH, Kind.CANCEL) or (
            intent.kind is Kind.TOOL and not same
        )
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
            await self._ask(turn, flow, slot)
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
                await self._reask(turn, flow, slot)
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
                    w=_what(lang, what),
                    v=word,
                    where=where,
                )
                + _did_you_mean(lang, word, names or [])
            )
            if info.mutates:
                turn.notes.append(
                    tr(
                        lang,
                        "修改操作需要准确的名字：请点按钮或输入完整名字。",
                        "Changes need the exact name: press a button or type it in full.",
                    )
                )
            await self._reask(turn, flow, slot)
            return True
        turn.notes.append(
            tr(
                lang,
                "没看懂这个回答，请点一个按钮或直接输入名字。",
                "I didn't get that; press a button or type the name.",
            )
        )
        await self._reask(turn, flow, slot)
        return True

    async def _more(self, turn: Turn, flow: Flow, slot: str) -> None:
        """ "more" / "下一页" typed at a question: the next page of its choices (like the More button)."""
        info = self.tools.info(flow.tool)
        if info is None:
            return
        page = flow.page + 1
        if not flow.complete and page * PAGE_SIZE >= len(flow.options):  # a shortlist ("found it in dev"): all
            await self._ask(turn, flow, slot, full=True)
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

    async def _reask(self, turn: Turn, flow: Flow, slot: str) -> None:
        info = self.tools.info(flow.tool)
        if info is None:
            return
        if flow.options:
            await self.send(
                turn,
                question_card(turn.lang, info, flow, slot, meaning(info, slot), flow.options, 0, PAGE_SIZE, ""),
            )
        else:
            await self._ask(turn, flow, slot, full=True)

    # ------------------------------------------------------------------ running
    async def _execute(self, turn: Turn, flow: Flow) -> None:
        lang, st = turn.lang, turn.state
        info = self.tools.info(flow.tool)
        if info is None:
            st.flow = None
            return
        args = {k: v for k, v in flow.args.items() if v is not None}
        pod = args.get("pod")
        if "container" in info.properties and "container" not in args and isinstance(pod, str):
            if pod in flow.containers:  # the pod's only container, seen in the list just offered
                args["container"] = flow.containers[pod]
        call = ToolCall(info.name, args)
        st.flow = None
        self._remember(turn, info.name, args)
        if info.mutates:
            await self.gate.propose(turn.caller, call, info, turn.responder, lang)
            st.add_turn("assistant", f"proposed {info.name} {args}")
            return
        if flow.plan:
            await self.send(turn, plan_card(lang, info, args, nextsteps.run(info.name, args)))
            return
        out = await self.tools.read(turn.caller, call, lang)
        if not out.ok:
            if info.name == "pod_logs" and args.get("previous") and "no previous logs" in (out.error or ""):
                await self.send(turn, _no_previous_card(lang, args))
                return
            started = re.search(r"has not started \((\w+)\)", out.error or "")
            if info.name == "pod_logs" and started:
                await self.send(turn, _not_started_card(lang, args, started.group(1)))
                return
            if out.error_code == "not_found" and not flow.recovered:
                if await self._recover(turn, flow, info, out):
                    return
            await self.send(turn, _error_card(lang, info, out))
            return
        data = out.data
        hint = flow.hints.get("object_name")
        if info.name == "list_events" and hint and isinstance(data, dict) and not args.get("object_name"):
            items = [e for e in data.get("items", []) if hint in str(e.get("object", ""))]
            data = {**data, "items": items, "total": len(items), "truncated": False}
        crashing = bool(args.get("pod")) and args.get("pod") in flow.crashing
        if info.name == "list_pods" and isinstance(data, dict):
            st.memory.listed = [
                [str(p.get("namespace")), str(p.get("name"))]
                for p in data.get("items", [])[:MAX_LISTED]
                if isinstance(p, dict) and p.get("name")
            ]
        focus = _focus_pod(info.name, data)
        if focus is not None:  # "orders 怎么了" -> one failing pod: "它的日志" now means that pod
            st.memory.pod, st.memory.pod_namespace = focus
        await self.send(turn, self.result_card(turn, info, args, data, out.text, crashing=crashing))
        st.add_turn("assistant", f"{info.name} {args}: ok")

    def result_card(
        self,
        turn: Turn,
        info: ToolInfo,
        args: dict[str, Any],
        data: dict[str, Any] | None,
        text: str,
        *,
        crashing: bool = False,
    ) -> Card:
        lang = turn.lang
        blocks: list[Block] = list(result_blocks(info.name, data, text, lang))
        buttons, notes = nextsteps.next_steps(info.name, args, data, lang, crashing=crashing)
        blocks.extend(notes)
        return Card(
            title=_title(lang, info, args),
            blocks=tuple(blocks),
            buttons=tuple(buttons),
            tone=tone_of(info.name, data),
        )

    def _remember(self, turn: Turn, tool: str, args: dict[str, Any]) -> None:
        mem = turn.state.memory
        if args.get("pod"):
            mem.pod, mem.pod_namespace = str(args["pod"]), args.get("namespace")
        if tool == "list_events" and args.get("object_name"):
            mem.pod, mem.pod_namespace = str(args["object_name"]), args.get("namespace")
        if args.get("deployment"):
            mem.deployment, mem.deployment_namespace = str(args["deployment"]), args.get("namespace")
        if args.get("node"):
            mem.node = str(args["node"])

    async def _recover(self, turn: Turn, flow: Flow, info: ToolInfo, out: ToolOutcome) -> bool:
        """A read failed with NOT_FOUND: probably a stale cached choice. Drop it, fetch fresh, re-offer."""
        lang = turn.lang
        if flow.recovered:
            return False
        flow.recovered = True  # recover once per flow: a second NOT_FOUND is reported, never re-asked in a loop
        ns = flow.args.get("namespace")
        if isinstance(ns, str):
            fresh = await self._names(turn, flow, "namespace", fresh=True)
            if fresh is not None and ns not in fresh:
                flow.args.pop("namespace")
                for p in OBJECT_SLOTS:
                    flow.args.pop(p, None)
                turn.notes.append(
                    tr(
                        lang,
                        "命名空间 `{n}` 已经不存在了，这是最新的列表。",
                        "Namespace `{n}` no longer exists; here is the current list.",
                        n=ns,
                    )
                )
                turn.state.flow = flow
                await self._ask(turn, flow, "namespace", full=True)
                return True
        # blame the parameter the error names ("container 'sidecar' not found in pod 'web-…'"), else the first
        said = out.error or ""
        slots = sorted(OBJECT_SLOTS, key=lambda p: f"{meaning(info, p)} '{flow.args.get(p)}' not found" not in said)
        for p in slots:
            value = flow.args.get(p)
            what = meaning(info, p)
            if isinstance(value, str) and what:
                flow.args.pop(p)
                current = await self._names(turn, flow, what, fresh=True) or []
                flow.hints.setdefault(p, value)  # a fragment ("cart-service") still narrows the fresh list
                if any(value in n for n in current):  # "/logs orders": a part of a name, not a vanished object
                    said_it = tr(
                        lang,
                        "`{v}` 不是完整的{w}名，按包含它的名字来找。",
                        "`{v}` is not a full {w} name; looking for names containing it.",
                        w=_what(lang, what),
                        v=value,
                    )
                else:
                    said_it = tr(
                        lang,
                        "{w} `{v}` 不存在（可能已被删除）。",
                        "{w} `{v}` was not found (it may be gone).",
                        w=_what(lang, what),
                        v=value,
                    ) + _did_you_mean(lang, value, current)
                turn.notes.append(said_it)
                turn.state.flow = flow
                await self._ask(turn, flow, p)
                return True
        return False

    # ------------------------------------------------------------------ card actions
    async def _on_action(self, turn: Turn, event: CardActionEvent) -> None:
        lang = turn.lang
        try:
            action = self.codec.decode(event.payload, event.conversation.chat_key)
        except InvalidPayload as exc:
            await turn.responder.toast(_payload_message(lang, exc.reason))
            return
        if action.op in self.gate.action_ops:
            await self.gate.on_action(turn.caller, action, turn.responder, lang, event.message_ref)
            return
        a = dict(action.args)
        try:
            await self._dispatch_action(turn, action.op, a)
        except (KeyError, TypeError, ValueError):
            await turn.responder.toast(tr(lang, "这个按钮已失效。", "This button is no longer valid."))

    async def _dispatch_action(self, turn: Turn, op: str, a: dict[str, Any]) -> None:
        lang = turn.lang
        if op == "run":
            intent = Intent(Kind.TOOL, str(a["t"]), dict(a.get("a") or {}), dict(a.get("h") or {}))
            info = self.tools.info(str(a["t"]))
            if info is None:
                await turn.responder.toast(tr(lang, "这个工具现在不可用。", "That tool is not available now."))
                return
            flow = Flow(tool=info.name, args=dict(intent.args), hints=dict(intent.hints), plan=False)
            turn.state.flow = flow
            await self._advance(turn, flow)
        elif op == "pick":
            flow = Flow(
                tool=str(a["t"]),
                args={**dict(a.get("a") or {}), str(a["s"]): a["v"]},
                hints=dict(a.get("h") or {}),
                plan=bool(a.get("pl")),
                crashing=[str(a["v"])] if a.get("cr") else [],
                containers={str(a["v"]): str(a["c"])} if a.get("c") else {},
            )
            turn.state.flow = flow
            await self._advance(turn, flow)
        elif op == "opts":
            flow = Flow(
                tool=str(a["t"]), args=dict(a.get("a") or {}), hints=dict(a.get("h") or {}), plan=bool(a.get("pl"))
            )
            turn.state.flow = flow
            await self._ask(turn, flow, str(a["s"]), full=True, page=int(a.get("p", 0)))
        elif op == "refresh":
            await self._refresh(turn)
        elif op == "help":
            await self.send(turn, help_card(lang))
        elif op == "reset":
            await self._reset(turn)
        elif op == "cancel":
            turn.state.flow = None
            await self.send(turn, cancelled_card(lang))
        else:
            await turn.responder.toast(tr(lang, "这个按钮已失效。", "This button is no longer valid."))

    # ------------------------------------------------------------------ commands
    async def _reset(self, turn: Turn) -> None:
        lang = turn.lang
        fresh = ConvState(lang=turn.state.lang, greeted=True)
        for name in ConvState.model_fields:
            setattr(turn.state, name, getattr(fresh, name))
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "已重置", "Reset"),
                tr(
                    lang,
                    "已清空这段对话的上下文（当前命名空间、进行中的问题等）。",
                    "I forgot this conversation's context (current namespace, pending questions).",
                ),
                Tone.SUCCESS,
            ),
        )

    async def _refresh(self, turn: Turn) -> None:
        lang = turn.lang
        n = await self.tools.clear()
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "缓存已刷新", "Cache refreshed"),
                tr(
                    lang,
                    "已清除 {n} 条缓存，接下来的列表都会从集群重新获取。",
                    "Dropped {n} cached entries; the next lists come fresh from the cluster.",
                    n=n,
                ),
                Tone.SUCCESS,
            ),
        )

    async def _use_ns(self, turn: Turn, value: str) -> None:
        lang = turn.lang
        flow = Flow(tool="list_namespaces")
        if not valid_name("namespace", value):
            turn.notes.append(
                tr(lang, "`{v}` 不是合法的命名空间名。", "`{v}` is not a valid namespace name.", v=value[:80])
            )
            await self._start(turn, Intent(Kind.TOOL, "list_namespaces"))
            return
        names = await self._names(turn, flow, "namespace")
        if names is not None and value not in names:
            names = await self._names(turn, flow, "namespace", fresh=True)
        if names is None:
            await self.send(turn, notice_card(lang, tr(lang, "查询失败", "Lookup failed"), "", Tone.DANGER))
            return
        if value not in names:
            turn.notes.append(
                tr(lang, "命名空间 `{n}` 不存在。", "Namespace `{n}` does not exist.", n=value)
                + _did_you_mean(lang, value, names)
            )
            await self._start(turn, Intent(Kind.TOOL, "list_namespaces"))
            return
        turn.state.memory.namespace = value
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "当前命名空间：{n}", "Current namespace: {n}", n=value),
                tr(
                    lang,
                    "之后的查询默认使用 `{n}`（修改操作仍需明确指定）。",
                    "Reads now default to `{n}` (changes still name it explicitly).",
                    n=value,
                ),
                Tone.SUCCESS,
            ),
        )

    async def _use_cluster(self, turn: Turn, value: str) -> None:
        lang = turn.lang
        names = await self._names(turn, Flow(tool="list_clusters"), "cluster")
        if names is None:
            await self.send(turn, notice_card(lang, tr(lang, "查询失败", "Lookup failed"), "", Tone.DANGER))
            return
        if value not in names:
            turn.notes.append(tr(lang, "没有名为 `{c}` 的集群。", "There is no cluster named `{c}`.", c=value[:80]))
            await self._start(turn, Intent(Kind.TOOL, "list_clusters"))
            return
        turn.state.memory.cluster = value
        turn.state.memory.namespace = None
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "当前集群：{c}", "Current cluster: {c}", c=value),
                tr(lang, "之后的操作默认使用集群 `{c}`。", "From now on I use cluster `{c}`.", c=value),
                Tone.SUCCESS,
            ),
        )

    # ------------------------------------------------------------------ LLM
    async def _llm(self, turn: Turn, text: str) -> None:
        assert self.planner is not None
        lang = turn.lang
        all_tools = self.tools.tools()
        offered = self.select_tools(text, all_tools) if self.select_tools else all_tools

        async def call_tool(call: ToolCall) -> ToolOutcome:
            info = self.tools.info(call.tool)
            if info is None or info.mutates:
                return ToolOutcome(ok=False, error_code="forbidden", error="mutations are proposed, never run here")
            return await self.tools.read(turn.caller, call, lang, cached=True)

        mem = turn.state.memory
        context = {k: str(v) for k, v in mem.model_dump().items() if v}
        try:
            result: AgentTurn = await self.planner.run(
                text=text,
                lang=lang,
                tools=offered,
                call_tool=call_tool,
                history=list(turn.state.turns[:-1]),
                context=context,
                on_progress=turn.responder.partial if isinstance(turn.responder, ProgressResponder) else None,
            )
        except Exception:  # the planner must not take the chat down; rules take over
            log.exception("planner raised")
            result = AgentTurn(failed=tr(lang, "模型调用出错", "the model call failed"))
        if result.failed:
            turn.notes.append(
                tr(
                    lang,
                    "AI 暂时不可用（{r}），改用内置规则处理。",
                    "The AI is unavailable ({r}); using the built-in rules.",
                    r=result.failed,
                )
            )
            await self._on_intent(turn, parse(text), text)
            return
        blocks: list[Block] = []
        if result.answer:
            blocks.append(Markdown(result.answer[:3000]))
        buttons: list[Button] = []
        for call, out in result.executed[-2:]:
            info = self.tools.info(call.tool)
            if info is None:
                continue
            if out.ok:
                blocks.extend(result_blocks(call.tool, out.data, out.text, lang))
                self._remember(turn, call.tool, call.args)
                b, n = nextsteps.next_steps(call.tool, call.args, out.data, lang)
                buttons, notes = b, n
                blocks.extend(notes)
        if blocks or not (result.proposed or result.incomplete):
            await self.send(
                turn,
                Card(
                    title=tr(lang, "KubeDuty", "KubeDuty"),
                    blocks=tuple(blocks) or (Markdown("…"),),
                    buttons=tuple(buttons),
                ),
            )
            turn.state.add_turn("assistant", result.answer or "(results)")
        for call in result.proposed[:3]:
            info = self.tools.info(call.tool)
            if info is None:
                continue
            await self._start(turn, Intent(Kind.TOOL, call.tool, {k: v for k, v in call.args.items() if v is not None}))
        if result.incomplete is not None:
            await self._start(turn, Intent(Kind.TOOL, result.incomplete.tool, dict(result.incomplete.args)))


def _focus_pod(tool: str, data: dict[str, Any] | None) -> tuple[str, str | None] | None:
    """The one pod a result is about (a health check's only failing pod, a listing of one), if there is one."""
    if not isinstance(data, dict):
        return None
    if tool == "workload_health":
        pods = [p for p in data.get("pods", []) if isinstance(p, dict)]
        bad = [p for p in pods if not p.get("healthy", True)]
        one = bad if len(bad) == 1 else pods if len(pods) == 1 else []
    elif tool == "list_pods":
        items = [p for p in data.get("items", []) if isinstance(p, dict)]
        one = items if len(items) == 1 else []
    else:
        return None
    if not one or not one[0].get("name"):
        return None
    return str(one[0]["name"]), (one[0].get("namespace") or data.get("namespace"))


def _workload_of(pod: str | None) -> str | None:
    """The Deployment behind a pod name (`payment-api-c2ws8rl9pf-9t44t` -> `payment-api`), when it has that shape."""
    m = re.fullmatch(r"(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}", pod or "")
    return m.group(1) if m else None


def _did_you_mean(lang: Lang, word: str, names: list[str]) -> str:
    """A typo's likely target ("dve" -> `dev`), said after the "does not exist" note; "" when nothing is close."""
    close = [n for n in names if n.startswith(word)][:2] or difflib.get_close_matches(word, names, n=2, cutoff=0.6)
    if not close:
        return ""
    return tr(lang, "你是不是想找 {c}？", " Did you mean {c}?", c=" / ".join(f"`{c}`" for c in close))


def _bounds(spec: dict[str, Any]) -> tuple[int | None, int | None]:
    """An integer parameter's minimum/maximum from its JSON schema (also inside `anyOf` for optional ones)."""
    for s in (spec, *[a for a in spec.get("anyOf", ()) if isinstance(a, dict) and a.get("type") == "integer"]):
        lo, hi = s.get("minimum"), s.get("maximum")
        if isinstance(lo, int) or isinstance(hi, int):
            return (lo if isinstance(lo, int) else None), (hi if isinstance(hi, int) else None)
    return None, None


def _what(lang: Lang, what: str) -> str:
    names = {
        "namespace": ("命名空间", "namespace"),
        "pod": ("Pod", "pod"),
        "deployment": ("Deployment", "deployment"),
        "statefulset": ("StatefulSet", "statefulset"),
        "container": ("容器", "container"),
        "node": ("节点", "node"),
        "cluster": ("集群", "cluster"),
    }
    zh, en = names.get(what, (what, what))
    return tr(lang, zh, en)


def _title(lang: Lang, info: ToolInfo, args: dict[str, Any]) -> str:
    target = "/".join(
        str(args[k]) for k in ("namespace", "pod", "deployment", "node", "name", "object_name") if args.get(k)
    )
    base = info.title(lang.value)
    return f"{base} · {target}" if target else base


def _no_previous_card(lang: Lang, args: dict[str, Any]) -> Card:
    """Previous logs of a container that never restarted: not an error, just nothing before the current one."""
    ref = {k: args[k] for k in ("cluster", "namespace", "pod", "container") if args.get(k)}
    pod = str(args.get("pod", ""))
    return Card(
        title=tr(lang, "没有上一次的日志", "No previous logs"),
        blocks=(
            Markdown(
                tr(
                    lang,
                    "Pod `{p}` 的容器没有重启过，所以没有上一个实例的日志。可以看当前日志或事件。",
                    "The container of pod `{p}` has not restarted, so there is no previous instance to read. "
                    "See the current logs or the events instead.",
                    p=pod,
                )
            ),
        ),
        buttons=(
            Button(tr(lang, "当前日志", "Current logs"), nextsteps.run("pod_logs", ref), ButtonStyle.PRIMARY),
            Button(
                tr(lang, "查看事件", "Events"),
                nextsteps.run(
                    "list_events",
                    {
                        k: v
                        for k, v in {**ref, "object_name": pod}.items()
                        if k in ("cluster", "namespace", "object_name")
                    },
                ),
            ),
            Button(
                tr(lang, "描述 Pod", "Describe pod"),
                nextsteps.run("describe_pod", {k: v for k, v in ref.items() if k != "container"}),
            ),
        ),
        tone=Tone.INFO,
    )


def _not_started_card(lang: Lang, args: dict[str, Any], reason: str) -> Card:
    """Logs of a container that never ran (ImagePullBackOff, Pending ...): say why there are none, point to events."""
    pod, ns = str(args.get("pod", "")), str(args.get("namespace", ""))
    base = {"cluster": args["cluster"]} if args.get("cluster") else {}
    return Card(
        title=tr(lang, "还没有日志", "No logs yet"),
        blocks=(
            Markdown(
                tr(
                    lang,
                    "Pod `{p}` 的容器还没有启动（{r}），所以还没有日志。启动失败的原因通常在事件里。",
                    "The container of pod `{p}` has not started ({r}), so there are no logs yet. "
                    "Why it does not start is usually in the events.",
                    p=pod,
                    r=reason,
                )
            ),
        ),
        buttons=(
            Button(
                tr(lang, "查看事件", "Events"),
                nextsteps.run("list_events", {**base, "namespace": ns, "object_name": pod}),
                ButtonStyle.PRIMARY,
            ),
            Button(
                tr(lang, "描述 Pod", "Describe pod"),
                nextsteps.run("describe_pod", {**base, "namespace": ns, "pod": pod}),
            ),
        ),
        tone=Tone.WARNING,
    )


def _error_card(lang: Lang, info: ToolInfo, out: ToolOutcome) -> Card:
    return Card(
        title=tr(lang, "{t}：失败", "{t}: failed", t=info.title(lang.value)),
        blocks=tuple(error_blocks(lang, out.error or out.text, out.error_code)),
        tone=Tone.DANGER,
    )


def _payload_message(lang: Lang, reason: PayloadError) -> str:
    return {
        PayloadError.EXPIRED: tr(lang, "这个按钮已过期，请重新发起。", "This button has expired; please start again."),
        PayloadError.FOREIGN: tr(lang, "这个按钮不属于这个会话。", "This button belongs to another chat."),
        PayloadError.FORGED: tr(
            lang, "按钮数据无效（签名不符），已忽略。", "Invalid button data (bad signature); ignored."
        ),
        PayloadError.MALFORMED: tr(lang, "按钮数据无效，已忽略。", "Invalid button data; ignored."),
        PayloadError.TOO_LONG: tr(lang, "按钮数据无效，已忽略。", "Invalid button data; ignored."),
    }[reason]


__all__ = ["Engine"]


def _single_containers(data: Any, limit: int = 300) -> dict[str, str]:
    """pod -> container, for the pods of a listing that have exactly one container."""
    out: dict[str, str] = {}
    items = data.get("items", []) if isinstance(data, dict) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        containers = [c.get("name") for c in item.get("containers") or [] if isinstance(c, dict)]
        if len(containers) == 1 and isinstance(containers[0], str) and isinstance(item.get("name"), str):
            out[item["name"]] = containers[0]
            if len(out) >= limit:
                break
    return out
