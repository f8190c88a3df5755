"""From an Alertmanager post to the cards: route, merge into the group's incident, one card per group and chat
updated in place. A group's work is serialised by a Redis lock, and a post already applied (an Alertmanager
retry, or the same post reaching another replica) is recognised by its digest and changes nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.alerts.cards import alert_card, target_of
from bot.alerts.incidents import Incident, IncidentStore, new_incident_id
from bot.alerts.model import AlertStatus, WebhookPayload, summary_of
from bot.alerts.outbox import Outbox, escalation_of
from bot.alerts.routing import Routing
from bot.alerts.storm import StormGuard
from bot.core.cards import Card
from bot.core.tasks import TaskTracker
from bot.render.mentions import is_urgent
from bot.store import Store

log = logging.getLogger(__name__)

DELIVERY_TTL_SECONDS = 6 * 3600  # Alertmanager retries for minutes; repeats of a group arrive as new content
STORM_REF = "storm"
NO_UPDATE = "-"

# What runbooks match an incident: (runbook id, button label), given the incident. Filled by bot.alerts.runbooks.
RunbookMatcher = Callable[[Incident], Sequence[tuple[str, str]]]


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # a resolve for a group we never saw fire


@dataclass
class Receipt:
    outcome: Outcome
    incident_id: str | None = None
    failed_chats: list[str] = field(default_factory=list)


class AlertService:
    def __init__(
        self,
        *,
        store: Store,
        routing: Routing,
        tracker: TaskTracker,
        outbox: Outbox | None = None,
        clock: Callable[[], float] = time.time,
        card_budget: int = 10,
        storm_flush_seconds: float = 2.0,
        runbooks: RunbookMatcher | None = None,
        lock_wait: float = 30.0,
    ) -> None:
        self.store = store
        self.incidents = IncidentStore(store)
        self.routing = routing
        self.outbox = outbox
        self.clock = clock
        self.runbooks = runbooks
        self.lock_wait = lock_wait
        self.storm = StormGuard(
            store=store,
            tracker=tracker,
            outbox=lambda: self.outbox,
            budget=card_budget,
            flush_seconds=storm_flush_seconds,
            clock=clock,
        )
        self.cards_sent = 0
        self.cards_updated = 0

    # ------------------------------------------------------------------ webhook
    async def receive(self, payload: WebhookPayload) -> Receipt:
        gk = payload.groupKey
        keys = self.store.keys
        async with self.store.lock(keys.alert_lock(gk), ttl=60, wait=self.lock_wait):
            mark = keys.alert_delivery(gk, payload.digest())
            if await self.store.exists(mark):
                return Receipt(Outcome.DUPLICATE, await self.incidents.current_id(gk))
            now = self.clock()
            current_id = await self.incidents.current_id(gk)
            inc = await self.incidents.get(current_id) if current_id else None
            firing = any(a.status is AlertStatus.FIRING for a in payload.alerts)
            if inc is None or (inc.resolved and firing):
                if not firing:
                    await self.store.set_json(mark, 1, DELIVERY_TTL_SECONDS)
                    return Receipt(Outcome.IGNORED)
                inc = self._open(payload, now)
                await self.incidents.set_current(gk, inc.id)
                await self.incidents.index(inc)
            inc.merge(payload.alerts, now)
            if payload.truncatedAlerts:
                inc.dropped_alerts += payload.truncatedAlerts
            failed = await self._deliver(inc, now)
            await self.incidents.save(inc)
            if not failed:
                await self.store.set_json(mark, 1, DELIVERY_TTL_SECONDS)
            return Receipt(Outcome.APPLIED, inc.id, failed)

    def _open(self, payload: WebhookPayload, now: float) -> Incident:
        labels = {**payload.alerts[0].labels, **payload.commonLabels}
        route = self.routing.route(labels)
        name = payload.commonLabels.get("alertname") or payload.groupLabels.get("alertname") or payload.alerts[0].name
        target = target_of(payload.commonLabels, workload_first=True)
        inc = Incident(
            id=new_incident_id(),
            group_key=payload.groupKey,
            priority=route.priority,
            route=route.name,
            lang=route.lang,
            title=f"{name} · {target}" if target != "-" else name,
            common_labels=dict(payload.commonLabels),
            summary=summary_of(payload.commonAnnotations, route.lang.value),
            opened_at=now,
            chats=list(route.chats) if route.priority.notifies else [],
            oncall=list(route.oncall),
        )
        if not route.priority.notifies:
            inc.add(now, "recorded")
        return inc

    def render(self, inc: Incident) -> Card:
        runbooks = self.runbooks(inc) if self.runbooks is not None and not inc.resolved else ()
        return alert_card(inc, runbooks=runbooks)

    async def _deliver(self, inc: Incident, now: float, *, skip: str | None = None) -> list[str]:
        """Post or update the incident's card in each of its chats. Returns the chats that failed."""
        failed: list[str] = []
        card: Card | None = None
        for chat in inc.chats:
            if chat == skip:
                continue
            ref = inc.cards.get(chat)
            if ref == STORM_REF:
                await self.storm.fold(chat, inc.lang, inc.id, self._storm_row(inc))
                continue
            responder = self.outbox.responder(chat, inc.lang) if self.outbox is not None else None
            if responder is None:
                failed.append(chat)
                continue
            if ref is None and not await self.storm.take_card(chat):
                inc.cards[chat] = STORM_REF
                inc.add(now, "storm", detail=chat)
                await self.storm.fold(chat, inc.lang, inc.id, self._storm_row(inc))
                continue
            card = card or self.render(inc)
            try:
                if ref is None:
                    new_ref = await responder.send(card)
                    self.cards_sent += 1
                    # no ref: the platform cannot update (DingTalk without a card template); never repost
                    inc.cards[chat] = new_ref or NO_UPDATE
                    if inc.notified_at is None:
                        inc.notified_at = now
                    inc.add(now, "notified", detail=chat)
                    if is_urgent(card) and (outcome := escalation_of(self.outbox, inc.id)) is not None:
                        inc.add(now, "escalated" if outcome == "ok" else "escalation_failed", detail=chat)
                elif ref != NO_UPDATE:
                    await responder.update(ref, card)
                    self.cards_updated += 1
            except Exception:  # the platform is down or refused: report it so Alertmanager retries
                log.exception("alerts: card for %s in %s failed", inc.id, chat)
                failed.append(chat)
        return failed

    @staticmethod
    def _storm_row(inc: Incident) -> dict[str, str]:
        return {"p": inc.priority.value, "t": inc.title, "s": inc.status.value}

    # ------------------------------------------------------------------ changes from buttons
    async def change(
        self, incident_id: str, mutate: Callable[[Incident], bool], *, skip_chat: str | None = None
    ) -> Incident | None:
        """Apply `mutate` under the group's lock and refresh every card (but `skip_chat`'s, which the clicking
        responder updates itself). `mutate` returns False to leave things unchanged."""
        inc = await self.incidents.get(incident_id)
        if inc is None:
            return None
        async with self.store.lock(self.store.keys.alert_lock(inc.group_key), ttl=60, wait=self.lock_wait):
            fresh = await self.incidents.get(incident_id)
            if fresh is None:
                return None
            if not mutate(fresh):
                return fresh
            await self._deliver(fresh, self.clock(), skip=skip_chat)
            await self.incidents.save(fresh)
            return fresh
