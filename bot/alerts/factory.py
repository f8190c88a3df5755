"""Builds the on-call loop from settings (called by `bot.app.build_bot` when ALERTS_PORT is set)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.alerts.actions import AlertActions, Handler
from bot.alerts.handover import Handover
from bot.alerts.outbox import ChannelOutbox, Outbox
from bot.alerts.receiver import Receiver
from bot.alerts.routing import Routing
from bot.alerts.service import AlertService
from bot.alerts.silences import Silencer
from bot.core.actions import ActionCodec
from bot.core.i18n import Lang, tr
from bot.core.tasks import TaskTracker
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass
class AlertsRuntime:
    service: AlertService
    handler: AlertActions
    receiver: Receiver
    tracker: TaskTracker | None = None
    handover: Handover | None = None

    async def attach(self, adapters: Sequence[Any] | Outbox) -> None:
        """Give the service the platforms to post into, then open the webhook (so no alert arrives too early)."""
        self.service.outbox = adapters if hasattr(adapters, "responder") else ChannelOutbox(adapters)
        await self.receiver.start()
        if self.handover is not None and self.tracker is not None:
            self.tracker.spawn(self.handover.run(), name="shift-handover")

    async def close(self) -> None:
        await self.receiver.close()
        await self.service.storm.drain()


def policy_permit(gate: Any) -> Callable[[str, str, str, str, Lang], str | None] | None:
    """Silence and runbook permissions come from the same policy files as every change (verb `silence`,
    resource `alerts`); without a policy (read-only gate) nobody may silence."""
    policy = getattr(gate, "policy", None)

    def permit(who: str, chat: str, verb: str, namespace: str, lang: Lang) -> str | None:
        if policy is None:
            return tr(lang, "没有加载权限策略，不能静默。", "No policy is loaded: silencing is not allowed.")
        from bot.policy.engine import decide
        from bot.policy.model import CallFacts

        facts = CallFacts(
            tool=f"alert_{verb}", verb=verb, resource="alerts", namespace=namespace, risk="low", mutates=True
        )
        decision = decide(policy, who, chat, facts)
        if decision.allowed:
            return None
        what = tr(lang, "静默告警", "silence alerts") if verb == "silence" else verb  # no English verb in zh
        return tr(lang, "你没有权限执行该操作（{v}）。", "You are not allowed to do that ({v}).", v=what)

    return permit


def build_alerts(
    settings: Settings,
    *,
    store: Store,
    tracker: TaskTracker,
    codec: ActionCodec,
    gate: Any,
    inner: Handler,
    toolbox: Any = None,
    extras: dict[str, Any] | None = None,
    planner: Any = None,
) -> AlertsRuntime:
    token = settings.alerts_token.get_secret_value() if settings.alerts_token else ""
    if not token:
        raise ValueError("ALERTS_PORT is set but ALERTS_TOKEN is empty: the webhook must require a bearer token")
    if settings.alert_routes_file:
        routing = Routing.load(settings.alert_routes_file)
    else:
        routing = Routing.single(list(settings.alert_chats))
    from bot.alerts.diagnosis import Diagnoser, RunbookBook
    from tools.prom import PromClient

    book = RunbookBook()  # a bad runbook stops start-up here, with file:line
    service = AlertService(
        store=store, routing=routing, tracker=tracker, card_budget=settings.alert_card_budget, runbooks=book.buttons
    )
    from bot.alerts.followup import Followup

    prom = PromClient(settings.prometheus_url) if settings.prometheus_url else None
    diagnoser = Diagnoser(
        prom=prom,
        book=book,
        gate=gate,
        gateway=getattr(toolbox, "gateway", None),
        toolbox=toolbox,  # the diagnosis reads the cluster as the clicking user
        planner=planner,  # with an LLM, a short summary on top of the diagnosis
        service=service,
        followup=Followup(
            service=service,
            store=store,
            prom=prom,
            wait_seconds=settings.approval_ttl_seconds,
            gateway=getattr(toolbox, "gateway", None),
        ),
        tracker=tracker,
    )
    extras = {
        "diagnose": diagnoser.diagnose,
        "propose": diagnoser.propose,
        "metrics": diagnoser.metrics_card,
        **(extras or {}),
    }
    silencer = Silencer(settings.alertmanager_url) if settings.alertmanager_url else None
    handler = AlertActions(
        service=service,
        codec=codec,
        inner=inner,
        permit=policy_permit(gate),
        silencer=silencer,
        tracker=tracker,  # the deferred AI summary is awaited at shutdown like any other task
        **(extras or {}),
    )
    receiver = Receiver(service, token=token, host=settings.alerts_host, port=settings.alerts_port or 0)
    handover = None
    if settings.handover_times and settings.handover_chats:
        handover = Handover(
            service=service,
            store=store,
            outbox=lambda: service.outbox,
            times=settings.handover_times,
            chats=settings.handover_chats,
            gateway=getattr(toolbox, "gateway", None),
        )
    return AlertsRuntime(service=service, handler=handler, receiver=receiver, tracker=tracker, handover=handover)
