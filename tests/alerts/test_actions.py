"""Alert card buttons and `/incidents`, through the real codec, real Redis and (for silences) a real Alertmanager."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bot.alerts.actions import AlertActions
from bot.alerts.cards import OP_CLAIM, OP_SILENCE, OP_UNSILENCE
from bot.alerts.model import WebhookPayload
from bot.alerts.service import AlertService
from bot.alerts.silences import Silencer
from bot.core.actions import Action, ActionCodec
from bot.core.events import CardActionEvent, Conversation, InboundEvent, MessageEvent, Platform, Sender
from bot.core.i18n import Lang
from bot.core.responder import Responder
from tests.alerts.helpers import RecordingOutbox, alert, card_text, payload
from tests.support.prom import Server, start_alertmanager

CHAT = Conversation(Platform.FEISHU, "oc-oncall", is_group=True)


class Passed:
    def __init__(self) -> None:
        self.events: list[InboundEvent] = []

    async def __call__(self, event: InboundEvent, responder: Responder) -> None:
        self.events.append(event)


def click(codec: ActionCodec, action: Action, user: str, ref: str) -> CardActionEvent:
    return CardActionEvent(
        event_id=f"click-{user}-{action.op}",
        conversation=CHAT,
        sender=Sender(user, name=user.title()),
        payload=codec.encode(action, CHAT.chat_key),
        message_ref=ref,
    )


def only_alice_silences(who: str, chat: str, verb: str, namespace: str, lang: Lang) -> str | None:
    return None if who == "feishu:alice" else "你没有权限执行该操作（silence）。"


@pytest.fixture
def codec() -> ActionCodec:
    return ActionCodec("alert-actions-secret", 600)


@pytest.fixture
def alertmanager() -> Iterator[Server]:
    am = start_alertmanager('route: {receiver: "null"}\nreceivers: [{name: "null"}]\n')
    yield am
    am.stop()


def actions(service: AlertService, codec: ActionCodec, inner: Passed, silencer: Silencer | None = None) -> AlertActions:
    return AlertActions(service=service, codec=codec, inner=inner, permit=only_alice_silences, silencer=silencer)


async def _open(service: AlertService, outbox: RecordingOutbox) -> tuple[str, str]:
    receipt = await service.receive(WebhookPayload.model_validate(payload([alert(deployment="orders")])))
    assert receipt.incident_id is not None
    ref = next(s.ref for s in outbox.sent if s.chat == CHAT.chat_key)
    return receipt.incident_id, ref


async def test_the_first_claim_wins_and_shows_on_every_card_later_ones_are_told_who_has_it(
    service: AlertService, outbox: RecordingOutbox, codec: ActionCodec
) -> None:
    inc_id, ref = await _open(service, outbox)
    handler = actions(service, codec, Passed())
    responder = outbox.responder(CHAT.chat_key, Lang.ZH)
    await handler(click(codec, Action(OP_CLAIM, {"i": inc_id}), "alice", ref), responder)
    await handler(click(codec, Action(OP_CLAIM, {"i": inc_id}), "bob", ref), responder)
    for sent in outbox.sent:
        text = card_text(sent.latest)
        assert "Alice" in text and "已认领" in text and "认领" not in [b.label for b in sent.latest.buttons]
    assert (CHAT.chat_key, "已由 Alice 认领。") in outbox.toasts
    inc = await service.incidents.get(inc_id)
    assert inc is not None and inc.claimed_by == "feishu:alice" and inc.mtta is not None


async def test_silence_and_unsilence_go_through_alertmanagers_api_and_the_policy(
    service: AlertService, outbox: RecordingOutbox, codec: ActionCodec, alertmanager: Server
) -> None:
    inc_id, ref = await _open(service, outbox)
    handler = actions(service, codec, Passed(), Silencer(alertmanager.url))
    responder = outbox.responder(CHAT.chat_key, Lang.ZH)

    await handler(click(codec, Action(OP_SILENCE, {"i": inc_id, "h": 1}), "bob", ref), responder)
    assert outbox.toasts[-1][1] == "你没有权限执行该操作（silence）。"
    assert _silences(alertmanager) == []

    await handler(click(codec, Action(OP_SILENCE, {"i": inc_id, "h": 1}), "alice", ref), responder)
    (active,) = [s for s in _silences(alertmanager) if s["status"]["state"] == "active"]
    matchers = {m["name"]: m["value"] for m in active["matchers"]}
    assert matchers == {"alertname": "KubePodOOMKilled", "namespace": "production", "deployment": "orders"}
    assert active["createdBy"] == "Alice" and inc_id in active["comment"]
    card = next(s for s in outbox.sent if s.ref == ref).latest
    assert "静默中" in card_text(card) and "取消静默" in [b.label for b in card.buttons]

    await handler(click(codec, Action(OP_UNSILENCE, {"i": inc_id}), "alice", ref), responder)
    assert [s for s in _silences(alertmanager) if s["status"]["state"] == "active"] == []
    inc = await service.incidents.get(inc_id)
    assert inc is not None and inc.silence_id is None
    assert [e.kind for e in inc.timeline][-2:] == ["silenced", "unsilenced"]


def _silences(am: Server) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{am.url}/api/v2/silences", timeout=30) as resp:
        return list(json.loads(resp.read()))


async def test_incidents_lists_open_and_recent_ones_and_other_messages_pass_through(
    service: AlertService, outbox: RecordingOutbox, codec: ActionCodec
) -> None:
    await _open(service, outbox)
    await service.receive(WebhookPayload.model_validate(payload([alert("HighErrorRate", pod="x")], group="b")))
    inner = Passed()
    handler = actions(service, codec, inner)
    responder = outbox.responder(CHAT.chat_key, Lang.EN)
    await handler(MessageEvent("m1", CHAT, Sender("alice"), "/incidents"), responder)
    listing = outbox.sent[-1].card
    assert listing.title == "事件：2 个进行中，共 2 个"
    assert "KubePodOOMKilled" in card_text(listing) and "HighErrorRate" in card_text(listing)
    await handler(MessageEvent("m2", CHAT, Sender("alice"), "/pods dev"), responder)
    assert [e.event_id for e in inner.events] == ["m2"], "everything else reaches the engine unchanged"


async def test_a_button_for_an_unknown_incident_is_answered_kindly(
    service: AlertService, outbox: RecordingOutbox, codec: ActionCodec
) -> None:
    handler = actions(service, codec, Passed())
    await handler(click(codec, Action(OP_CLAIM, {"i": "INC-GONE"}), "alice", "msg-x"), outbox.responder("c", Lang.ZH))
    assert "不存在" in outbox.toasts[-1][1] and outbox.sent == []
