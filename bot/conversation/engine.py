"""The conversation engine: the handler the dispatcher calls for every inbound event.

Per event: take the conversation's lock, THEN load its state (lost updates otherwise), route (card action,
slash command, the active guided flow, the LLM planner or the rule parser), save the state with its TTL.
Reads run through the gate's read check; mutations only ever end in `gate.propose` with every target
explicitly chosen or typed exactly.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from bot.approvals.port import Caller
from bot.conversation.base import MAX_MESSAGE_CHARS
from bot.conversation.commands import Commands
from bot.conversation.controls import InPlace, close_choice, on_control, on_switch, refusal_card, remember_plan
from bot.conversation.flowcards import (
    payload_message,
    workload_of,
)
from bot.conversation.following import Following, wants_follow
from bot.conversation.grammar import PENDING_VERBS
from bot.conversation.parser import (
    STOP,
    Intent,
    Kind,
    is_list_request,
    is_quick,
    normalize,
    parse,
    parse_slash,
)
from bot.conversation.planning import Planning
from bot.conversation.progress import ProgressResponder
from bot.conversation.running import Running
from bot.conversation.slotfill import SlotFilling
from bot.conversation.state import ConvState, Flow
from bot.conversation.texts import (
    cancelled_card,
    did_you_mean_card,
    help_card,
    notice_card,
    source_status_card,
    welcome_card,
)
from bot.conversation.turn import Turn
from bot.conversation.understand import understand
from bot.core import dedupe
from bot.core.actions import InvalidPayload
from bot.core.dispatcher import event_lang
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent, state_key
from bot.core.i18n import Lang, detect_lang, tr
from bot.core.responder import Responder
from bot.core.typed_lang import says_nothing, typed_lang
from bot.render.model import Tone
from bot.store import LockTimeout, Seen

log = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u9fff]")


class Engine(Commands, SlotFilling, Running, Planning, Following):
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
        keys, claim = self.store.keys, dedupe.current()
        seen = Seen(keys.seen(claim.event, key), claim.token, claim.ttl) if claim is not None else None
        # one round trip takes the dedupe marker, the lock and the state; the save goes back with the release
        async with self.store.session(keys.conv_lock(key), keys.state(key), seen=seen, wait=self.lock_wait) as session:
            if session.duplicate:
                log.info("dropping redelivered event %s", event.event_id)
                return
            state = self._parse(key, session.raw)
            lang = self._lang(event, state)
            state.lang = lang.value
            progress = ProgressResponder(responder, lang, delay=self.progress_after, tracker=self.tracker)
            turn = Turn(Caller(event.conversation, event.sender), state, progress, lang, channel=responder)
            progress.start()
            finished = False
            try:
                if isinstance(event, CardActionEvent):
                    await self._on_action(turn, event)
                else:
                    await self._on_message(turn, event.text)
                finished = True
            finally:
                # a failed (or cancelled) turn ends its working card with the failure; the dispatcher says what failed
                await progress.stop(failed=not finished)
                session.save(state.model_dump(mode="json"), self.state_ttl)

    async def _load(self, key: str) -> ConvState:
        return self._parse(key, await self.store.get_json(self.store.keys.state(key)))

    def _parse(self, key: str, raw: Any) -> ConvState:
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
            if says_nothing(text):  # "/pods dev": the one rule for commands, shared with the channels
                return typed_lang(text, remembered)
            # A bare name, a number or a slash command says nothing about the language: keep the user's.
            # An answer to a pending question ("dev", "cart-service v2") neither; an English sentence ("its
            # events", "the second one") does.
            sentence = any(w in STOP for w in normalize(text).split())
            if remembered and (
                text.startswith("/") or len(text.split()) <= 1 or (state.flow is not None and not sentence)
            ):
                return remembered
            return detect_lang(text, remembered or Lang.ZH)
        return event.lang or remembered or Lang.ZH  # a click answers in the clicked card's language

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
            await self._too_long(turn, len(text))
            return
        turn.state.add_turn("user", text)
        if not turn.state.greeted:
            turn.state.greeted = True
            if not text.startswith("/help"):
                await self.send(turn, welcome_card(lang))
        if text.startswith("/"):
            turn.state.pending = None
            await self._on_intent(turn, parse_slash(text), text)
            return
        intent = parse(text)
        if intent.tool == "pod_logs" and wants_follow(text):  # "实时日志" / "follow the logs of web"
            intent = replace(intent, args={**intent.args, "follow": True})
        if intent.kind in (Kind.YES, Kind.CANCEL, Kind.BACK, Kind.MORE):
            await on_control(self, turn, intent)  # the small control grammar works at every step
            return
        pending = turn.state.pending
        if pending and _says_verb_of(pending.get("tool"), text, intent):
            await on_control(self, turn, Intent(Kind.YES))  # "嗯，重启吧" to the restart waiting for confirmation
            return
        turn.state.pending = None  # anything else is a new turn: an old card is no longer what "yes" means
        if intent.kind is Kind.NONE and intent.words and turn.state.memory.last_tool and _FOLLOW_UP.search(text):
            intent = self._follow_up(turn, intent)  # "那 production 呢": the last question, about another thing
        flow = turn.state.flow
        if flow is not None and flow.slot is not None:
            if is_list_request(text) and intent.kind is not Kind.TOOL:
                await self.ask(turn, flow, flow.slot, full=True)
                return
            if await self._answer(turn, flow, text, intent):
                return
        # bot commands and quick-command labels are deterministic: never worth a model call
        fixed = intent.kind in (
            Kind.HELP,
            Kind.RESET,
            Kind.REFRESH,
            Kind.CANCEL,
            Kind.GREET,
            Kind.REFUSE,
            Kind.SWITCH,
        ) or is_quick(text)
        fixed = fixed or bool(intent.args.get("follow"))  # a live log card is not something a model answers
        if self.planner is not None and not fixed:
            await self._llm(turn, text)
            return
        await self._on_intent(turn, intent, text)

    def _follow_up(self, turn: Turn, intent: Intent) -> Intent:
        """ "那 production 呢" / "那 payment-api 的呢": the last read again about another thing; the word is
        resolved as usual (a namespace replaces the namespace, anything else names the object)."""
        mem = turn.state.memory
        tool = mem.last_tool or ""
        if self.tools.info(tool) is None:
            return intent
        args = {"cluster": mem.cluster} if mem.cluster else {}
        return Intent(Kind.TOOL, tool, args, {}, words=intent.words, plan=tool == "workload_health")

    async def _too_long(self, turn: Turn, n: int) -> None:
        lang = turn.lang
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "消息太长", "Message too long"),
                tr(
                    lang,
                    "这条消息有 {n} 个字符，我最多处理 {m} 个。请说得简短一些，例如「看下 dev 里的 pod」。",
                    'That message has {n} characters; I handle at most {m}. Please keep it short, e.g. "pods in dev".',
                    n=n,
                    m=MAX_MESSAGE_CHARS,
                ),
                Tone.WARNING,
            ),
        )

    async def _on_intent(self, turn: Turn, intent: Intent, text: str) -> None:
        lang, st = turn.lang, turn.state
        kind = intent.kind
        if kind is Kind.HELP or kind is Kind.GREET:
            await self.send(turn, help_card(lang) if kind is Kind.HELP else welcome_card(lang))
        elif kind is Kind.RESET:
            await self._reset(turn)
        elif kind is Kind.REFRESH:
            await self._refresh(turn)
        elif kind in (Kind.CANCEL, Kind.YES, Kind.BACK, Kind.MORE):
            await on_control(self, turn, intent)
        elif kind is Kind.SWITCH:
            st.flow = None
            await on_switch(self, turn, intent)
        elif kind is Kind.REFUSE:
            st.flow = None
            await self.send(turn, refusal_card(lang, intent.value or "off_topic"))
        elif kind is Kind.TOO_LONG:
            await self._too_long(turn, len(text))
        elif kind is Kind.USE_NS:
            await self.use_ns(turn, intent.value or "")
        elif kind is Kind.USE_CLUSTER:
            await self.use_cluster(turn, intent.value or "")
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
            await self.start(turn, intent)
        elif kind is Kind.STATUS:
            await self.start(turn, Intent(Kind.TOOL, "cluster_overview", slash=True))
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

    async def start(self, turn: Turn, intent: Intent) -> None:
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
        u = await understand(self.tools, turn, intent, info)  # words placed by the cluster's own names
        args, hints = u.args, u.hints
        turn.notes.extend(u.notes)
        if u.suggest is not None:
            word, names, slot = u.suggest
            if turn.state.memory.cluster and "cluster" in info.properties and "cluster" not in args:
                args["cluster"] = turn.state.memory.cluster
            card, first = did_you_mean_card(turn.lang, word, names, info.name, args, hints, slot, intent.plan)
            turn.state.flow = None
            await self.send(turn, card)
            remember_plan(turn, first)  # "对" / "yes" takes the first suggestion
            return
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
            workload = mem.deployment or workload_of(mem.pod)
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
        if (
            u.vocab is None
            and not info.mutates
            and intent.target
            and "namespace" in info.properties
            and "namespace" not in args
        ):
            # "production 的事件" / "dev 的服务": the word is a namespace, not an object name
            probe = Flow(tool=info.name, args={k: v for k, v in args.items() if k == "cluster"})
            known = await self._names(turn, probe, "namespace")
            if known and intent.target in known:
                args["namespace"] = intent.target
                hints = {k: v for k, v in hints.items() if v != intent.target}
        if not info.mutates and mem.namespace and "namespace" in info.properties and "namespace" not in args:
            args["namespace"] = mem.namespace  # the pinned context fills reads; changes name their namespace
        recent = mem.last_namespace
        if recent and "namespace" in info.properties and "namespace" not in args and not intent.slash:
            # the namespace just looked at is not asked for again: for a read that needs one, or for an object
            # (a change's too) that the cluster says lives there
            obj = next((v for k, v in hints.items() if k != "name_filter"), None)
            if obj is None and not info.mutates and "namespace" in info.required:
                args["namespace"] = recent
            elif obj is not None and u.vocab is not None and recent in u.vocab.namespaces_of(obj):
                args["namespace"] = recent
        flow = Flow(tool=info.name, args=args, hints=hints, plan=intent.plan)
        turn.state.flow = flow
        await self._advance(turn, flow)

    # ------------------------------------------------------------------ card actions
    async def _on_action(self, turn: Turn, event: CardActionEvent) -> None:
        lang = turn.lang
        turn.state.pending = None  # a click answers the card itself; a later typed "yes" must not repeat it
        try:
            action = self.codec.decode(event.payload, event.conversation.chat_key)
        except InvalidPayload as exc:
            await turn.responder.toast(payload_message(lang, exc.reason))
            return
        if action.op in self.gate.action_ops:
            await self.gate.on_action(turn.caller, action, turn.responder, lang, event.message_ref)
            return
        a = dict(action.args)
        turn.message_ref = event.message_ref
        ref = event.message_ref
        if action.op in ("pick", "opts") and ref and not await close_choice(self, turn, a, ref):
            return  # the card's choice was made already: a notice, nothing re-run
        if action.op == "opts" and ref:
            turn.responder = InPlace(turn.responder, ref)  # a page of choices replaces the card it was asked on
        try:
            await self.dispatch_action(turn, action.op, a)
        except (KeyError, TypeError, ValueError):
            await turn.responder.toast(tr(lang, "这个按钮已失效。", "This button is no longer valid."))

    async def dispatch_action(self, turn: Turn, op: str, a: dict[str, Any]) -> None:
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
                answered=[str(a["s"])],
            )
            turn.state.flow = flow
            await self._advance(turn, flow)
        elif op == "opts":
            flow = Flow(
                tool=str(a["t"]), args=dict(a.get("a") or {}), hints=dict(a.get("h") or {}), plan=bool(a.get("pl"))
            )
            turn.state.flow = flow
            await self.ask(turn, flow, str(a["s"]), full=True, page=int(a.get("p", 0)))
        elif op == "refresh":
            await self._refresh(turn)
        elif op == "help":
            await self.send(turn, help_card(lang))
        elif op == "reset":
            await self._reset(turn)
        elif op == "cancel":
            turn.state.flow = None
            await self.send(turn, cancelled_card(lang))
        elif op == "logpage":  # Older / Newer on a logs card
            await self.on_logpage(turn, a)
        elif op == "listpage":  # Previous / Next on a pod or event list
            await self.on_listpage(turn, a)
        elif op == "follow":
            await self.start_follow(turn, a)
        elif op == "unfollow":
            await self.on_unfollow(turn, a)
        else:
            await turn.responder.toast(tr(lang, "这个按钮已失效。", "This button is no longer valid."))


__all__ = ["Engine"]


_FOLLOW_UP = re.compile(r"^(?:那|那么|还有)|呢\s*[？?]?$|(?<![a-z])(?:what about|how about|and)(?![a-z])", re.I)


def _says_verb_of(tool: Any, text: str, intent: Intent) -> bool:
    """ "重启吧" / "删吧" while that change waits for confirmation: a yes, not a new request."""
    verbs = PENDING_VERBS.get(str(tool))
    if verbs is None or intent.words or intent.hints or len(text) > 12:
        return False
    return re.search(verbs, normalize(text)) is not None
