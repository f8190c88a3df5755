"""An alert storm yields grouped, rate-limited cards and loses no resolve; routing is first match with a default;
P3 is recorded only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.alerts.model import WebhookPayload
from bot.alerts.routing import Priority, Routing, RoutingError, priority_of
from bot.alerts.service import AlertService
from bot.core.tasks import TaskTracker
from bot.store import Store
from tests.alerts.helpers import RecordingOutbox, alert, card_text, payload


async def test_a_storm_of_1000_alerts_in_200_groups_gives_a_budget_of_cards_and_one_digest_that_shows_every_resolve(
    service: AlertService, outbox: RecordingOutbox
) -> None:
    groups = [f"svc-{g}" for g in range(200)]

    def body(group: str, status: str) -> WebhookPayload:
        alerts = [alert("HighErrorRate", status=status, pod=f"{group}-{i}", severity="warning") for i in range(5)]
        return WebhookPayload.model_validate(payload(alerts, group=group))

    await asyncio.gather(*(service.receive(body(g, "firing")) for g in groups))
    await asyncio.gather(*(service.receive(body(g, "resolved")) for g in groups))
    await service.storm.drain()

    per_chat = outbox.in_chat("feishu:oc-oncall")
    assert len(per_chat) == service.storm.budget + 1, "the budget of group cards, then one digest card"
    digest = [s for s in per_chat if s.card.title.startswith("告警风暴")]
    assert len(digest) == 1
    final = card_text(digest[0].latest)
    assert "190 组告警（0 组告警中）" in digest[0].latest.title
    assert "已截断" in final, "the digest lists a bounded number of groups, visibly truncated"
    for sent in per_chat:
        if sent not in digest:
            assert "已恢复" in sent.latest.title, "every individually carded group shows its resolve"
    recent = await service.incidents.recent(200)
    assert len(recent) == 200 and all(i.resolved for i in recent)


def test_routing_takes_the_first_matching_route_and_falls_back_to_the_default(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        """
routes:
  - name: orders
    match: {namespace: production}
    match_re: {alertname: "KubePod.*"}
    chats: ["feishu:oc-orders"]
    oncall: ["feishu:ou-alice"]
  - name: prod
    match: {namespace: production}
    chats: ["dingtalk:cid-prod"]
    lang: en
    priority: P0
default:
  chats: ["feishu:oc-platform"]
""",
        encoding="utf-8",
    )
    routing = Routing.load(path)
    r = routing.route({"namespace": "production", "alertname": "KubePodOOMKilled", "severity": "critical"})
    assert (r.name, r.chats, r.priority) == ("orders", ("feishu:oc-orders",), Priority.P1)
    r = routing.route({"namespace": "production", "alertname": "HighErrorRate", "severity": "info"})
    assert (r.name, r.chats, r.priority, r.lang.value) == ("prod", ("dingtalk:cid-prod",), Priority.P0, "en")
    r = routing.route({"namespace": "dev", "alertname": "KubePodOOMKilled"})
    assert (r.name, r.chats) == ("default", ("feishu:oc-platform",))


def test_a_bad_routing_file_is_refused_with_the_place_of_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("routes:\n  - chats: [oc-no-platform]\n", encoding="utf-8")
    with pytest.raises(RoutingError, match=r"routes\.0\.chats"):
        Routing.load(path)


def test_priority_comes_from_an_explicit_label_first_then_the_severity() -> None:
    assert priority_of({"priority": "p0", "severity": "info"}) is Priority.P0
    assert priority_of({"severity": "critical"}) is Priority.P1
    assert priority_of({"severity": "warning"}) is Priority.P2
    assert priority_of({"severity": "info"}) is Priority.P3
    assert priority_of({}) is Priority.P2


async def test_a_p3_alert_is_recorded_as_an_incident_but_posts_no_card(
    service: AlertService, outbox: RecordingOutbox
) -> None:
    receipt = await service.receive(WebhookPayload.model_validate(payload([alert(severity="info")])))
    assert outbox.sent == []
    assert receipt.incident_id is not None
    inc = await service.incidents.get(receipt.incident_id)
    assert inc is not None and inc.priority is Priority.P3 and inc.timeline[0].kind == "recorded"


async def test_p0_mentions_everyone_and_p1_the_people_on_call(service: AlertService, outbox: RecordingOutbox) -> None:
    await service.receive(WebhookPayload.model_validate(payload([alert(severity="critical")], group="a")))
    await service.receive(WebhookPayload.model_validate(payload([alert(priority="P0")], group="b")))
    texts = [card_text(s.card) for s in outbox.in_chat("feishu:oc-oncall")]
    assert "@ou-alice" in texts[0] and "@所有人" not in texts[0]
    assert "@所有人" in texts[1]


async def test_a_resolve_for_a_group_never_seen_firing_is_ignored(store: Store, outbox: RecordingOutbox) -> None:
    tracker = TaskTracker()
    svc = AlertService(store=store, routing=Routing.single(["feishu:oc-x"]), tracker=tracker, outbox=outbox)
    receipt = await svc.receive(WebhookPayload.model_validate(payload([alert(status="resolved")])))
    assert receipt.outcome.value == "ignored" and outbox.sent == []
    await tracker.close()
