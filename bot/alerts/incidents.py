"""Incidents: one per Alertmanager group while it fires, with a bounded timeline, kept in the store.

Key layout (bot.store.keys): the group's current incident id and lock share the group's hash tag; the
incident document has its id's tag; an append-only stream indexes recent incidents for `/incidents`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, Field, ValidationError

from bot.alerts.model import Alert, AlertStatus, summary_of
from bot.alerts.routing import Priority
from bot.core.i18n import Lang
from bot.store import Store

INCIDENT_TTL_SECONDS = 30 * 24 * 3600  # reports are read for a month; the audit keeps the rest
MAX_TIMELINE = 60
MAX_ALERTS = 500  # per incident; beyond this only counted (an unbounded group must not grow a document)
INDEX_MAXLEN = 2000


class TimelineEntry(BaseModel):
    at: float
    kind: (
        str  # fired | notified | repeat | resolved | claimed | diagnosed | silenced | unsilenced | runbook_* | verified
    )
    who: str = ""
    detail: str = ""


class AlertState(BaseModel):
    name: str
    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    summary: str = ""
    starts_at: float | None = None
    ends_at: float | None = None


class Incident(BaseModel):
    id: str
    group_key: str
    status: AlertStatus = AlertStatus.FIRING
    priority: Priority = Priority.P2
    route: str = "default"
    lang: Lang = Lang.ZH
    title: str = ""
    common_labels: dict[str, str] = Field(default_factory=dict)
    summary: str = ""
    opened_at: float
    notified_at: float | None = None
    claimed_by: str | None = None
    claimed_name: str | None = None
    claimed_at: float | None = None
    resolved_at: float | None = None
    silence_id: str | None = None
    silenced_until: float | None = None
    cause: str | None = None
    actions: list[str] = Field(default_factory=list)
    alerts: dict[str, AlertState] = Field(default_factory=dict)
    dropped_alerts: int = 0
    chats: list[str] = Field(default_factory=list)
    cards: dict[str, str] = Field(default_factory=dict)  # chat_key -> card ref (or "storm" when in the digest)
    oncall: list[str] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    timeline_dropped: int = 0

    # --- derived ---
    @property
    def firing(self) -> list[AlertState]:
        return [a for a in self.alerts.values() if a.status is AlertStatus.FIRING]

    @property
    def resolved(self) -> bool:
        return self.status is AlertStatus.RESOLVED

    @property
    def mtta(self) -> float | None:
        return None if self.claimed_at is None else max(0.0, self.claimed_at - self.opened_at)

    @property
    def mttr(self) -> float | None:
        return None if self.resolved_at is None else max(0.0, self.resolved_at - self.opened_at)

    def add(self, at: float, kind: str, who: str = "", detail: str = "") -> None:
        self.timeline.append(TimelineEntry(at=at, kind=kind, who=who, detail=detail[:300]))
        if len(self.timeline) > MAX_TIMELINE:
            # keep the opening entries (what fired, who was told) and the newest; count what falls out
            cut = len(self.timeline) - MAX_TIMELINE
            self.timeline = self.timeline[:5] + self.timeline[5 + cut :]
            self.timeline_dropped += cut

    def merge(self, alerts: Iterable[Alert], at: float) -> tuple[int, int]:
        """Fold a webhook's alerts in; returns (newly firing, newly resolved). Resolves are never dropped."""
        fired = resolved = 0
        for alert in alerts:
            key = alert.key
            known = self.alerts.get(key)
            if known is None and len(self.alerts) >= MAX_ALERTS:
                self.dropped_alerts += 1
                continue
            state = AlertState(
                name=alert.name,
                status=alert.status,
                labels=dict(alert.labels),
                summary=summary_of(alert.annotations, self.lang.value),
                starts_at=_ts(alert.startsAt),
                ends_at=_ts(alert.endsAt) if alert.status is AlertStatus.RESOLVED else None,
            )
            if known is None or known.status is not state.status:
                if state.status is AlertStatus.FIRING:
                    fired += 1
                else:
                    resolved += 1
            self.alerts[key] = state
        if fired:
            self.add(at, "fired", detail=f"{fired}")
        if resolved:
            self.add(at, "alert_resolved", detail=f"{resolved}")
        if self.alerts and not self.firing and not self.resolved:
            self.status = AlertStatus.RESOLVED
            self.resolved_at = at
            self.add(at, "resolved")
        elif self.firing and self.resolved:
            self.status = AlertStatus.FIRING  # fired again inside the same group before we archived it
            self.resolved_at = None
        return fired, resolved


def _ts(value: datetime | None) -> float | None:
    if value is None or value.year < 2000:  # Alertmanager sends 0001-01-01 for "no end yet"
        return None
    return value.replace(tzinfo=value.tzinfo or UTC).timestamp()


def new_incident_id() -> str:
    return "INC-" + secrets.token_hex(4).upper()


class IncidentStore:
    def __init__(self, store: Store, *, ttl: int = INCIDENT_TTL_SECONDS) -> None:
        self._store = store
        self._keys = store.keys
        self._ttl = ttl

    async def current_id(self, group_key: str) -> str | None:
        raw = await self._store.get_json(self._keys.alert_group(group_key))
        return raw if isinstance(raw, str) else None

    async def set_current(self, group_key: str, incident_id: str) -> None:
        await self._store.set_json(self._keys.alert_group(group_key), incident_id, self._ttl)

    async def get(self, incident_id: str) -> Incident | None:
        raw = await self._store.get_json(self._keys.incident(incident_id))
        if not isinstance(raw, dict):
            return None
        try:
            return Incident.model_validate(raw)
        except ValidationError:
            return None

    async def save(self, incident: Incident) -> None:
        await self._store.set_json(self._keys.incident(incident.id), incident.model_dump(mode="json"), self._ttl)

    async def index(self, incident: Incident) -> None:
        await self._store.append_stream(
            self._keys.incident_index(), {"id": incident.id}, maxlen=INDEX_MAXLEN, ttl=self._ttl
        )

    async def recent(self, limit: int = 20) -> list[Incident]:
        rows = await self._store.read_stream_tail(self._keys.incident_index(), limit)
        out: list[Incident] = []
        for row in rows:
            inc = await self.get(row.get("id", ""))
            if inc is not None:
                out.append(inc)
        return out
