"""Chinese alert cards read as Chinese: no English sentence or internal name outside code spans and tables."""

from __future__ import annotations

import time

from bot.alerts.cards import alert_card, incidents_card, storm_card
from bot.alerts.diagnosis import Diagnoser, RunbookBook
from bot.alerts.evidence import Evidence, MetricFacts, Target, incident_labels
from bot.alerts.handover import report_card
from bot.alerts.incidents import Incident
from bot.alerts.model import AlertStatus, WebhookPayload
from bot.core.events import Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.i18n import Lang
from tests.alerts.helpers import alert, payload
from tests.conversation.corpus.zh_check import english_problems

NAMES = frozenset({"KubePodOOMKilled", "production/orders", "orders", "INC-1", "P1"})


class _Figures(Diagnoser):
    """The metrics an OOM-killed workload shows (the end-to-end test gets them from a real Prometheus)."""

    async def evidence(self, inc: Incident, event: InboundEvent, lang: Lang) -> Evidence:
        figures = {"restarts_1h": 3.0, "oom": 1.0, "mem_ratio": 0.97, "throttling": 0.3, "err_ratio": 0.1}
        labels = incident_labels(inc)
        return Evidence(
            Target.of(labels), labels, "KubePodOOMKilled", None, time.time(), MetricFacts(values=figures), None
        )


def incident() -> Incident:
    p = WebhookPayload.model_validate(payload([alert(deployment="orders", container="orders")]))
    inc = Incident(id="INC-1", group_key="g", opened_at=time.time() - 300, title="KubePodOOMKilled · production/orders")
    inc.merge(p.alerts, time.time())
    inc.add(time.time(), "notified", detail="feishu:oc_1")
    return inc


async def test_every_chinese_alert_card_has_no_english_sentence() -> None:
    inc = incident()
    cards = [alert_card(inc, runbooks=[("oom-raise-memory", "内存不足：调高内存上限")])]
    diagnosis, cause = await _Figures(prom=None, book=RunbookBook()).diagnose(
        inc, MessageEvent("e", Conversation(Platform.FEISHU, "oc"), Sender("u"), ""), Lang.ZH
    )
    cards.append(diagnosis)
    inc.claimed_by, inc.claimed_at, inc.cause = "feishu:ou_a", time.time(), cause
    inc.status, inc.resolved_at = AlertStatus.RESOLVED, time.time()
    inc.actions = ["内存不足：调高内存上限 (feishu:ou_b)"]
    cards += [
        alert_card(inc),
        storm_card({"INC-1": {"p": "P1", "t": inc.title, "s": "firing"}}, Lang.ZH, time.time()),
        incidents_card([inc], Lang.ZH),
        report_card([inc], since=0, now=time.time(), lang=Lang.ZH),
    ]
    for card in cards:
        assert english_problems(card, known_names=NAMES) == [], card.title
    assert cause is not None and cause.startswith("内存上限过低")
