"""The probe server: `/healthz` (live), `/readyz` (ready) and `/metrics` (Prometheus), on one port.

It starts before anything else in `kubeduty run`, so the kubelet gets an answer while the tool listings load
and the platforms connect. Liveness is only "the event loop answers": a DingTalk or Feishu outage must not
make Kubernetes restart the pod (a restart cannot bring their servers back). Readiness is what the runner's
check says (Redis answers, at least one platform connected) and is 503 until the runner installs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.ops import metrics

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[dict[str, Any]]]  # returns a report whose "ok" decides 200/503
READY_CHECK_TIMEOUT = 4.0  # below the readinessProbe's timeoutSeconds (5): a hung check is "not ready"


class HealthServer:
    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        self.port = port
        self._host = host
        self._started = time.monotonic()
        self._ready_check: ReadyCheck | None = None
        self._phase = "starting"
        self._runner: web.AppRunner | None = None

    def set_ready_check(self, check: ReadyCheck | None) -> None:
        self._ready_check = check

    def set_phase(self, phase: str) -> None:
        """starting | serving | stopping (shown in both probes; only `serving` can be ready)."""
        self._phase = phase

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # All interfaces on purpose: the kubelet and Prometheus reach the pod IP. Only status is served here.
        site = web.TCPSite(self._runner, self._host, self.port)
        await site.start()
        log.info("probes on :%d (/healthz, /readyz, /metrics)", self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _uptime(self) -> float:
        return round(time.monotonic() - self._started, 3)

    async def _healthz(self, _request: web.Request) -> web.Response:
        # Answering at all is the proof: this handler runs on the bot's event loop.
        body = {"ok": True, "live": True, "phase": self._phase, "uptime_seconds": self._uptime()}
        return web.json_response(body, dumps=json.dumps)

    async def _readyz(self, _request: web.Request) -> web.Response:
        report = await self.readiness()
        return web.json_response(report, status=200 if report["ok"] else 503, dumps=json.dumps)

    async def readiness(self) -> dict[str, Any]:
        check = self._ready_check
        report: dict[str, Any]
        if check is None:
            report = {"ok": False, "reason": "starting"}
        else:
            try:
                report = dict(await asyncio.wait_for(check(), READY_CHECK_TIMEOUT))
            except TimeoutError:
                report = {"ok": False, "reason": f"readiness check took longer than {READY_CHECK_TIMEOUT:g}s"}
            except Exception as exc:  # noqa: BLE001 - a probe answers; the reason goes into the body
                report = {"ok": False, "reason": f"readiness check failed: {type(exc).__name__}: {exc}"[:300]}
        if self._phase != "serving":
            report["ok"] = False
            report.setdefault("reason", self._phase)
        report["phase"] = self._phase
        metrics.ready.set(1 if report["ok"] else 0)
        return report

    async def _metrics(self, _request: web.Request) -> web.Response:
        if self._ready_check is not None and self._phase == "serving":
            await self.readiness()  # refreshes the platform and readiness gauges
        body = await asyncio.to_thread(metrics.exposition)
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp
