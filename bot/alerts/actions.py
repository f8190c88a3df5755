"""Alert card buttons (claim, diagnose, silence, unsilence, runbook) and `/incidents`, in front of the engine.

Wraps the dispatcher's handler: alert ops and `/incidents` are answered here, everything else goes on to the
conversation engine unchanged. Runs inside the dispatcher's lane, so redeliveries are already dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bot.alerts.cards import OP_CLAIM, OP_DIAGNOSE, OP_RUNBOOK, OP_SILENCE, OP_UNSILENCE, incidents_card
from bot.alerts.incidents import Incident
from bot.alerts.service import AlertService
from bot.alerts.silences import SilenceError, Silencer
from bot.alerts.summary import DEFERRED, DeferredSummary
from bot.conversation.oncall import match_oncall
from bot.core.actions import Action, ActionCodec, InvalidPayload
from bot.core.cards import Card
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.core.typed_lang import typed_lang

log = logging.getLogger(__name__)

Handler = Callable[[InboundEvent, Responder], Awaitable[None]]
# (who, chat, verb, namespace) -> None if allowed, else the reason in the user's language
Permit = Callable[[str, str, str, str, Lang], str | None]
# Builds the diagnosis card of an incident for a caller (bot.alerts.diagnosis).
Diagnose = Callable[[Incident, InboundEvent, Lang], Awaitable[tuple[Card, str | None]]]  # card, top cause
Propose = Callable[[Incident, str, CardActionEvent, Responder, Lang], Awaitable[None]]

Metrics = Callable[[str, str | None, Lang], Awaitable[Card]]
# Buttons that make no sense once the group resolved (Diagnose still does: the report's why; Unsilence too: the
# silence outlives the alert in Alertmanager).
AFTER_RESOLVE_REFUSED = frozenset({OP_CLAIM, OP_SILENCE, OP_RUNBOOK})


class AlertActions:
    def __init__(
        self,
        *,
        service: AlertService,
        codec: ActionCodec,
        inner: Handler,
        permit: Permit | None = None,
        silencer: Silencer | None = None,
        diagnose: Diagnose | None = None,
        propose: Propose | None = None,
        metrics: Metrics | None = None,
        tracker: TaskTracker | None = None,
    ) -> None:
        self.tracker = tracker  # runs the deferred AI summary; without one, a task kept in `_summaries`
        self._summaries: set[asyncio.Task[None]] = set()
        self.service = service
        self.codec = codec
        self.inner = inner
        self.permit = permit
        self.silencer = silencer
        self.diagnose = diagnose
        self.propose = propose
        self.metrics = metrics

    async def __call__(self, event: InboundEvent, responder: Responder) -> None:
        if isinstance(event, MessageEvent):
            # declared with the other commands (bot.conversation.grammar.ONCALL_COMMANDS), executed here
            ask = match_oncall(event.text)
            if ask is not None:
                # the shared rule: a slash command keeps the language (here the project's default, unless the
                # adapter knows the user's); a phrasing sets it
                lang = event.lang or typed_lang(event.text, Lang.ZH)
                if ask.command == "/incidents":
                    recent = await self.service.incidents.recent(20)
                    await responder.send(incidents_card(recent, lang, total_hint=None))
                    return
                if ask.command == "/metrics" and self.metrics is not None:
                    await responder.send(await self._metrics(list(ask.args), lang))
                    return
        if isinstance(event, CardActionEvent):
            try:
                action = self.codec.decode(event.payload, event.conversation.chat_key)
            except InvalidPayload:
                action = None  # the engine answers bad payloads, in one place
            if action is not None and action.op.startswith("al."):
                await self._on_action(event, action, responder)
                return
        await self.inner(event, responder)

    async def _metrics(self, args: list[str], lang: Lang) -> Card:
        assert self.metrics is not None
        namespace = None
        if "-n" in args:
            at = args.index("-n")
            namespace = args[at + 1] if at + 1 < len(args) else ""
            args = args[:at] + args[at + 2 :]
        return await self.metrics(args[0] if args else "", namespace, lang)

    async def _on_action(self, event: CardActionEvent, action: Action, responder: Responder) -> None:
        incident_id = str(action.args.get("i", ""))
        inc = await self.service.incidents.get(incident_id)
        if inc is None:
            await responder.toast("这个事件已过期或不存在。 / This incident has expired or does not exist.")
            return
        lang = inc.lang
        who = event.sender.subject(event.conversation.platform)
        name = event.sender.name or event.sender.user_id
        chat = event.conversation.chat_key
        if inc.resolved and action.op in AFTER_RESOLVE_REFUSED:
            # an older copy of the card (or a click racing the resolve): nothing is left to claim, silence or fix
            await responder.toast(
                tr(lang, "这个告警已经恢复，不需要再处理。", "This alert has already resolved; nothing to do.")
            )
            if action.op != OP_RUNBOOK:  # a runbook button may sit on the diagnosis card: leave that one be
                await self._refresh_clicked(inc, event, responder)
            return
        if action.op == OP_CLAIM:
            await self._claim(inc, who, name, event, responder)
        elif action.op in (OP_SILENCE, OP_UNSILENCE):
            denied = (
                self.permit(who, chat, "silence", inc.common_labels.get("namespace", ""), lang) if self.permit else None
            )
            if denied:
                await responder.toast(denied)
                return
            await self._silence(inc, action, name, event, responder)
        elif action.op == OP_DIAGNOSE:
            if self.diagnose is None:
                await responder.toast(tr(lang, "诊断功能未配置。", "Diagnosis is not configured."))
                return
            # the ranked card goes out now; an AI summary, if any, replaces it when it comes (bot.alerts.summary)
            slot = DeferredSummary()
            token = DEFERRED.set(slot)
            try:
                card, cause = await self.diagnose(inc, event, lang)
            finally:
                DEFERRED.reset(token)

            def diagnosed(i: Incident) -> bool:
                i.add(self.service.clock(), "diagnosed", who=name, detail=cause or "")
                i.cause = cause or i.cause
                return True

            await self.service.change(inc.id, diagnosed)
            ref = await responder.send(card)
            if slot.ask is not None and slot.rebuild is not None:
                self._spawn_summary(slot, ref, responder, inc.id)
        elif action.op == OP_RUNBOOK:
            if self.propose is None:
                await responder.toast(tr(lang, "预案执行未配置。", "Runbooks are not configured."))
                return
            await self.propose(inc, str(action.args.get("r", "")), event, responder, lang)
        else:
            await responder.toast(tr(lang, "这个按钮已失效。", "This button is no longer valid."))

    def _spawn_summary(self, slot: DeferredSummary, ref: str | None, responder: Responder, incident_id: str) -> None:
        # Off the dispatcher's lane: the user's next click must not wait for the model.
        coro = _add_summary(slot, ref, responder)
        if self.tracker is not None:
            self.tracker.spawn(coro, name=f"diagnosis-summary:{incident_id}")
            return
        task = asyncio.get_running_loop().create_task(coro, name=f"diagnosis-summary:{incident_id}")
        self._summaries.add(task)
        task.add_done_callback(self._summaries.discard)

    async def _claim(self, inc: Incident, who: str, name: str, event: CardActionEvent, responder: Responder) -> None:
        lang = inc.lang
        taken: dict[str, Any] = {}

        def claim(i: Incident) -> bool:
            if i.claimed_by:
                taken["by"] = i.claimed_name or i.claimed_by
                return False
            now = self.service.clock()
            i.claimed_by, i.claimed_name, i.claimed_at = who, name, now
            i.add(now, "claimed", who=name)
            return True

        fresh = await self.service.change(inc.id, claim, skip_chat=event.conversation.chat_key)
        if fresh is None:
            return
        if taken:
            await responder.toast(tr(lang, "已由 {who} 认领。", "Already claimed by {who}.", who=taken["by"]))
            return
        await self._refresh_clicked(fresh, event, responder)
        await responder.toast(tr(lang, "你已认领此告警。", "You claimed this alert."))

    async def _silence(
        self, inc: Incident, action: Action, name: str, event: CardActionEvent, responder: Responder
    ) -> None:
        lang = inc.lang
        if self.silencer is None:
            await responder.toast(
                tr(lang, "未配置 Alertmanager 地址，无法静默。", "No Alertmanager URL set: cannot silence.")
            )
            return
        now = self.service.clock()
        if action.op == OP_SILENCE and inc.silence_id and (inc.silenced_until or 0) > now:
            # a double click or a second person: one silence per incident, else Unsilence would leave one behind
            ends = datetime.fromtimestamp(inc.silenced_until or now, UTC).strftime("%m-%d %H:%M UTC")
            await responder.toast(tr(lang, "已经静默到 {t}。", "Already silenced until {t}.", t=ends))
            return
        try:
            if action.op == OP_SILENCE:
                hours = int(action.args.get("h", 1))
                labels = {**next(iter(inc.alerts.values())).labels, **inc.common_labels} if inc.alerts else {}
                sid, until = await self.silencer.silence(labels, hours, by=name, comment=f"KubeDuty {inc.id}")

                def mark(i: Incident) -> bool:
                    i.silence_id, i.silenced_until = sid, until
                    i.add(now, "silenced", who=name, detail=tr(lang, "{h} 小时", "{h}h", h=str(hours)))
                    return True

            else:
                if inc.silence_id:
                    await self.silencer.unsilence(inc.silence_id)

                def mark(i: Incident) -> bool:
                    i.silence_id, i.silenced_until = None, None
                    i.add(now, "unsilenced", who=name)
                    return True

        except SilenceError as exc:
            log.warning("alerts: silence for %s failed: %s", inc.id, exc)
            await responder.toast(_silence_failed(exc, lang))
            return
        fresh = await self.service.change(inc.id, mark, skip_chat=event.conversation.chat_key)
        if fresh is not None:
            await self._refresh_clicked(fresh, event, responder)

    async def _refresh_clicked(self, inc: Incident, event: CardActionEvent, responder: Responder) -> None:
        ref = event.message_ref or inc.cards.get(event.conversation.chat_key)
        if ref and ref not in ("storm", "-"):
            await responder.update(ref, self.service.render(inc))


async def _add_summary(slot: DeferredSummary, ref: str | None, responder: Responder) -> None:
    """Ask the model (bounded: summary.TIMEOUT_SECONDS) and replace the pending line with its answer, or with
    "summary unavailable"; where the platform cannot update a card, the summarised card is posted anew."""
    assert slot.ask is not None and slot.rebuild is not None
    try:
        answer = await slot.ask()
    except Exception as exc:  # noqa: BLE001 - _ask already catches; a bug here must still end the pending line
        log.warning("diagnosis summary failed: %r", exc)
        answer = None
    card = slot.rebuild(answer)
    try:
        if ref is not None:
            await responder.update(ref, card)
        elif answer:
            await responder.send(card)
    except Exception as exc:  # noqa: BLE001 - the ranked card is already out; a failed edit only loses the summary
        log.warning("diagnosis summary update failed: %r", exc)


def _silence_failed(exc: SilenceError, lang: Lang) -> str:
    """Alertmanager's refusal in the user's words; its own (English) text stays in the log."""
    if exc.status == 0:
        return tr(lang, "静默失败：无法连接 Alertmanager。", "Silence failed: Alertmanager is unreachable.")
    if exc.status < 0:
        return tr(lang, "静默失败：这个告警没有可用于静默的标签。", "Silence failed: the alert has no labels to match.")
    return tr(
        lang,
        "静默失败：Alertmanager 拒绝了请求（HTTP {s}）。",
        "Silence failed: Alertmanager refused (HTTP {s}).",
        s=str(exc.status),
    )
