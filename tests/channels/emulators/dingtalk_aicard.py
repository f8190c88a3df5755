"""AI cards (AI 卡片) for the DingTalk emulator: the AI card template, `PUT /v1.0/card/streaming`, and the limits
DingTalk enforces on them (landscape.md "Platform conventions"; SDK 0.24.3 card_replier.py `AICardReplier`):
- at least 800 ms between two updates of one card (streaming or `PUT /v1.0/card/instances`): refused 403
  `QpsLimit` like DingTalk's per-card flow control;
- AI-card streaming at most 50 QPS per robot: refused 429 `Throttling`;
- streaming only on an AI card that is not finalised, `key` a variable of the template, `isFull` content;
- an AI card never finalised (no `isFinalize`, no FINISHED/FAILED `flowStatus`) is reported: `unfinalized()`.
Checks use arrival times (monotonic clock) only, no sleeping: clock-free for tests.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.channels.emulators.dingtalk import DingTalkEmulator

STREAMING = "/v1.0/card/streaming"
MIN_GAP_SECONDS = 0.8
ROBOT_QPS = 50
FINISHED, FAILED = "3", "5"


@dataclass
class AIStream:
    out_track_id: str
    status: str = "1"
    finalized: bool = False
    error: bool = False
    updates: list[float] = field(default_factory=list)  # arrival of every accepted update (monotonic)
    stream_updates: list[float] = field(default_factory=list)  # accepted streaming calls

    @property
    def ended(self) -> bool:
        return self.finalized and self.status in (FINISHED, FAILED)

    def text_rate(self) -> float:
        if len(self.stream_updates) < 2:
            return 0.0
        return (len(self.stream_updates) - 1) / max(1e-9, self.stream_updates[-1] - self.stream_updates[0])

    def min_gap(self) -> float:
        gaps = [b - a for a, b in zip(self.updates, self.updates[1:], strict=False)]
        return min(gaps) if gaps else float("inf")


class AICardEmulator:
    def __init__(self, emulator: DingTalkEmulator, template_id: str = "kubeduty-ai-card-test.schema") -> None:
        self._emu = emulator
        self.template_id = template_id
        self.streams: dict[str, AIStream] = {}
        self._robot_calls: collections.deque[float] = collections.deque()

    def routes(self, app: web.Application) -> None:
        app.router.add_put(STREAMING, self._streaming)

    def variables(self, template_id: Any, base: frozenset[str]) -> frozenset[str] | None:
        """The AI card template declares the message card's variables plus `flowStatus`."""
        return base | {"flowStatus"} if template_id == self.template_id else None

    # --- hooks from the card API ---------------------------------------------------------------------------------

    def created(self, out_track_id: str, template_id: Any, data: dict[str, str]) -> None:
        if template_id == self.template_id:
            self.streams[out_track_id] = AIStream(out_track_id, status=data.get("flowStatus", "1"))

    def updating(self, out_track_id: str, data: dict[str, str]) -> web.Response | None:
        """Before `PUT /v1.0/card/instances` of an AI card: its refusal, or None (then the status is taken)."""
        stream = self.streams.get(out_track_id)
        if stream is None:
            return None
        refusal = self._paced(stream)
        if refusal is not None:
            return refusal
        if "flowStatus" in data:
            stream.status = data["flowStatus"]
        return None

    # --- what tests ask ------------------------------------------------------------------------------------------

    def unfinalized(self) -> list[str]:
        return [s.out_track_id for s in self.streams.values() if not s.ended]

    def assert_all_finalized(self) -> None:
        left = self.unfinalized()
        assert not left, f"AI cards never finalised: {left}; refused: {self._emu.refused}"

    # --- OpenAPI -------------------------------------------------------------------------------------------------

    def _refuse(self, status: int, code: str, why: str) -> web.Response:
        self._emu.refused.append(f"{code}: {why}")
        return web.json_response({"code": code, "message": why}, status=status)

    def _paced(self, stream: AIStream) -> web.Response | None:
        now = time.monotonic()
        if stream.updates and now - stream.updates[-1] < MIN_GAP_SECONDS:
            gap = now - stream.updates[-1]
            return self._refuse(
                403, "QpsLimit", f"card {stream.out_track_id} updated {gap:.3f}s after the previous update"
            )
        stream.updates.append(now)
        return None

    async def _streaming(self, request: web.Request) -> web.Response:
        if request.headers.get("x-acs-dingtalk-access-token") != self._emu.token:
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        now = time.monotonic()
        while self._robot_calls and self._robot_calls[0] <= now - 1.0:
            self._robot_calls.popleft()
        if len(self._robot_calls) >= ROBOT_QPS:
            return self._refuse(429, "Throttling", f"more than {ROBOT_QPS} streaming calls/s for this robot")
        self._robot_calls.append(now)
        body = await request.json()
        out_track_id = str(body.get("outTrackId"))
        stream = self.streams.get(out_track_id)
        card = self._emu.cards.get(out_track_id)
        if stream is None or card is None:
            return self._refuse(400, "card.notFound", f"no AI card {out_track_id!r}")
        if stream.finalized:
            return self._refuse(400, "card.streamingFinished", f"AI card {out_track_id} was finalised already")
        key, content = body.get("key"), body.get("content")
        if not isinstance(key, str) or key not in card.data or not isinstance(content, str):
            return self._refuse(400, "param.invalid", f"streaming key {key!r} is not a variable of the card")
        if not body.get("guid") or body.get("isFull") is not True:
            return self._refuse(400, "param.invalid", "guid and isFull: true are required (full text each time)")
        refusal = self._paced(stream)
        if refusal is not None:
            return refusal
        stream.stream_updates.append(stream.updates[-1])
        card.data = {**card.data, key: content}
        card.versions.append(card.data)
        if body.get("isFinalize"):
            stream.finalized, stream.error = True, bool(body.get("isError"))
        return web.json_response({"success": True, "result": True})
