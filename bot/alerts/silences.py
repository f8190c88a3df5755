"""Alertmanager's API v2 silences: create one for an incident's alerts, expire it again."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import aiohttp

log = logging.getLogger(__name__)

# Labels that identify a group's alerts without pinning one pod (a restarted pod keeps its silence).
SILENCE_LABELS = ("alertname", "namespace", "deployment", "statefulset", "container", "node", "service", "job")


class SilenceError(Exception):
    """`status`: Alertmanager's HTTP answer, 0 when it could not be reached, -1 when there is nothing to silence by
    (the card words each kind in the user's language; the English detail is for the log)."""

    def __init__(self, message: str, *, status: int = -1) -> None:
        super().__init__(message)
        self.status = status


class Silencer:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def silence(self, labels: Mapping[str, str], hours: int, *, by: str, comment: str) -> tuple[str, float]:
        matchers = [
            {"name": k, "value": labels[k], "isRegex": False, "isEqual": True} for k in SILENCE_LABELS if labels.get(k)
        ]
        if not matchers:
            raise SilenceError("the alert has no labels to silence by")
        start = datetime.now(UTC)
        end = start + timedelta(hours=max(1, min(hours, 24)))
        body = {
            "matchers": matchers,
            "startsAt": start.isoformat(),
            "endsAt": end.isoformat(),
            "createdBy": by[:100],
            "comment": comment[:500],
        }
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as http:
                async with http.post(f"{self._base}/api/v2/silences", json=body) as resp:
                    if resp.status != 200:
                        text = (await resp.text())[:200]
                        raise SilenceError(f"Alertmanager answered {resp.status}: {text}", status=resp.status)
                    doc = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SilenceError(f"Alertmanager unreachable: {exc}", status=0) from exc
        return str(doc.get("silenceID", "")), end.timestamp()

    async def unsilence(self, silence_id: str) -> None:
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as http:
                async with http.delete(f"{self._base}/api/v2/silence/{silence_id}") as resp:
                    if resp.status not in (200, 404):  # 404: already expired or deleted, which is what we want
                        text = (await resp.text())[:200]
                        raise SilenceError(f"Alertmanager answered {resp.status}: {text}", status=resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SilenceError(f"Alertmanager unreachable: {exc}", status=0) from exc
