"""The Alertmanager webhook payload (version 4), typed. Raw dicts stop here."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_BODY_BYTES = 1024 * 1024  # Alertmanager groups are small; a megabyte is already a storm in one post
MAX_ALERTS_PER_POST = 2000
MAX_LABEL_CHARS = 1024


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


def _bounded(values: dict[str, str]) -> dict[str, str]:
    for k, v in values.items():
        if len(k) > MAX_LABEL_CHARS or len(v) > 16 * MAX_LABEL_CHARS:
            raise ValueError("label or annotation too long")
    return values


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=64)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = Field(default="", max_length=4096)
    fingerprint: str = Field(default="", max_length=64)

    _check_labels = field_validator("labels", "annotations")(_bounded)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")

    @property
    def key(self) -> str:
        """Alertmanager's fingerprint, or one computed the same way (from the labels) when a sender omits it."""
        if self.fingerprint:
            return self.fingerprint
        return hashlib.sha256(json.dumps(sorted(self.labels.items())).encode()).hexdigest()[:16]


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    version: Literal["4"] = "4"
    groupKey: str = Field(min_length=1, max_length=4096)
    truncatedAlerts: int = Field(default=0, ge=0)
    status: AlertStatus
    receiver: str = Field(default="", max_length=256)
    groupLabels: dict[str, str] = Field(default_factory=dict, max_length=64)
    commonLabels: dict[str, str] = Field(default_factory=dict, max_length=64)
    commonAnnotations: dict[str, str] = Field(default_factory=dict, max_length=64)
    externalURL: str = Field(default="", max_length=4096)
    alerts: list[Alert] = Field(min_length=1, max_length=MAX_ALERTS_PER_POST)

    def digest(self) -> str:
        """Same content, same digest: an Alertmanager retry or the same post reaching two replicas."""
        body = [(a.key, a.status.value, str(a.startsAt), str(a.endsAt)) for a in self.alerts]
        raw = json.dumps([self.groupKey, self.status.value, sorted(body)], default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


def summary_of(annotations: dict[str, str], lang: str) -> str:
    """The alert's one-line summary in the card's language: a rule may carry `summary_zh` beside `summary`
    (the shipped rules do); otherwise the rule's own text, as written."""
    if lang == "zh" and annotations.get("summary_zh"):
        return annotations["summary_zh"]
    return annotations.get("summary") or annotations.get("description", "")


class PayloadRejected(Exception):
    """A webhook body we will not act on; `reason` is safe to return to the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_payload(body: bytes) -> WebhookPayload:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadRejected("body too large")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: "[[[[…" nested too deep
        raise PayloadRejected("body is not JSON") from exc
    if not isinstance(doc, dict):
        raise PayloadRejected("body is not a JSON object")
    try:
        return WebhookPayload.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise PayloadRejected(f"invalid payload at {where or 'body'}: {first.get('msg', 'invalid')}") from exc
