"""Alert card buttons (claim, diagnose, silence, unsilence, runbook) and `/incidents`, in front of the engine.

Wraps the dispatcher's handler: alert ops and `/incidents` are answered here, everything else goes on to the
conversation engine unchanged. Runs inside the dispatcher's lane, so redeliveries are already dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.alerts.cards import OP_CLAIM, OP_DIAGNOSE, OP_RUNBOOK, OP_SILENCE, OP_UNSILENCE, incidents_card
from bot.alerts.incidents import Incident
from bot.alerts.service import AlertService
from bot.alerts.silences import SilenceError, Silencer
from bot.core.actions import Action, ActionCodec, InvalidPayload
from bot.core.cards import Card
from bot.core.events import CardActionEvent, InboundEvent, MessageEvent
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder

log = logging.getLogger(__name__)

Handler = Callable[[InboundEvent, Responder], Awaitable[None]]
# (who, chat, verb, namespace) -> None if allowed, else the reason in the user's language
Permit = Callable[[str, str, str, str, Lang], str | None]
# Builds the diagnosis card of an incident for a caller (bot.alerts.diagnosis).
Diagnose = Callable[[Incident, InboundEvent, Lang], Awaitable[tuple[Card, str | None]]]  # card, top cause
Propose = Callable[[Incident, str, CardActionEvent, Responder, Lang], Awaitable[None]]

INCIDENTS_COMMANDS = frozenset({"/incidents", "/incident", "/事件"})
METRICS_COMMANDS = frozenset({"/metrics", "/指标"})
Metrics = Callable[[str, str | None, Lang], Awaitable[Card]]


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
    ) -> None:
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
            words = event.text.strip().split()
            # a slash command and a workload name say nothing about the language: the project's default, unless
            # the adapter knows the user's
            lang = event.lang or Lang.ZH
            if words and words[0].lower() in INCIDENTS_COMMANDS:
                recent = await self.service.incidents.recent(20)
                await responder.send(incidents_card(recent, lang, total_hint=None))
                return
            if words and words[0].lower() in METRICS_COMMANDS and self.metrics is not None:
                await responder.send(await self._metrics(words[1:], lang))
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
            card, cause = await self.diagnose(inc, event, lang)

            def diagnosed(i: Incident) -> bool:
                i.add(self.service.clock(), "diagnosed", who=name, detail=cause or "")
                i.cause = cause or i.cause
                return True

            await self.service.change(inc.id, diagnosed)
            await responder.send(card)
        elif action.op == OP_RUNBOOK:
            if self.propose is None:
                await responder.toast(tr(lang, "预案执行未配置。", "Runbooks are not configured."))
                return
            await self.propose(inc, str(action.args.get("r", "")), event, responder, lang)
        else:
            await responder.toast(tr(lang, "这个按钮已失效。", "This button is no longer valid."))

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
        try:
            if action.op == OP_SILENCE:
                hours = int(action.args.get("h", 1))
                labels = {**next(iter(inc.alerts.values())).labels, **inc.common_labels} if inc.alerts else {}
                sid, until = await self.silencer.silence(labels, hours, by=name, comment=f"KubeDuty {inc.id}")

                def mark(i: Incident) -> bool:
                    i.silence_id, i.silenced_until = sid, until
                    i.add(now, "silenced", who=name, detail=f"{hours}h")
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
            await responder.toast(tr(lang, "静默失败：{e}", "Silence failed: {e}", e=str(exc)[:200]))
            return
        fresh = await self.service.change(inc.id, mark, skip_chat=event.conversation.chat_key)
        if fresh is not None:
            await self._refresh_clicked(fresh, event, responder)

    async def _refresh_clicked(self, inc: Incident, event: CardActionEvent, responder: Responder) -> None:
        ref = event.message_ref or inc.cards.get(event.conversation.chat_key)
        if ref and ref not in ("storm", "-"):
            await responder.update(ref, self.service.render(inc))
