"""Alertmanager-shaped payloads and a recording outbox for the receiver-level tests (the end-to-end tests use
the real Prometheus, Alertmanager and the IM emulators instead)."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from bot.core.cards import Card
from bot.core.i18n import Lang

TOKEN = "test-alerts-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def alert(
    name: str = "KubePodOOMKilled",
    *,
    status: str = "firing",
    namespace: str = "production",
    pod: str = "orders-7d9f-abcde",
    severity: str = "critical",
    **labels: str,
) -> dict[str, Any]:
    lbl = {"alertname": name, "namespace": namespace, "pod": pod, "severity": severity, **labels}
    fp = hashlib.sha256(repr(sorted(lbl.items())).encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": lbl,
        "annotations": {"summary": f"{name} on {namespace}/{pod}"},
        "startsAt": "2026-11-30T01:00:00Z",
        "endsAt": "2026-11-30T02:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fp,
    }


def payload(alerts: list[dict[str, Any]], *, group: str = "orders", **common: str) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    labels = {"alertname": alerts[0]["labels"]["alertname"], "namespace": alerts[0]["labels"]["namespace"], **common}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}", group="{group}"}}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "kubeduty",
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": {"summary": alerts[0]["annotations"]["summary"]},
        "externalURL": "http://alertmanager",
        "alerts": alerts,
    }


@dataclass
class Sent:
    chat: str
    ref: str
    card: Card
    updates: list[Card] = field(default_factory=list)

    @property
    def latest(self) -> Card:
        return self.updates[-1] if self.updates else self.card


class _Responder:
    def __init__(self, outbox: RecordingOutbox, chat: str) -> None:
        self._outbox = outbox
        self._chat = chat

    async def send(self, card: Card) -> str | None:
        ref = f"msg-{next(self._outbox.ids)}"
        self._outbox.sent.append(Sent(self._chat, ref, card))
        return ref

    async def update(self, ref: str, card: Card) -> None:
        for s in self._outbox.sent:
            if s.ref == ref:
                s.updates.append(card)
                return
        raise AssertionError(f"update of unknown card {ref}")

    async def toast(self, text: str) -> None:
        self._outbox.toasts.append((self._chat, text))


@dataclass
class RecordingOutbox:
    sent: list[Sent] = field(default_factory=list)
    toasts: list[tuple[str, str]] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def responder(self, chat_key: str, lang: Lang) -> _Responder:
        return _Responder(self, chat_key)

    def in_chat(self, chat: str) -> list[Sent]:
        return [s for s in self.sent if s.chat == chat]


def card_text(card: Card) -> str:
    from bot.render.text import render_card

    return render_card(card)
