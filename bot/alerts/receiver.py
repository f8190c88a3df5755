"""The Alertmanager webhook receiver: `POST /alerts/webhook` with `Authorization: Bearer <token>`.

Alertmanager side (`webhook_config`):
    url: http://kubeduty:9095/alerts/webhook
    http_config: {authorization: {type: Bearer, credentials: <ALERTS_TOKEN>}}
Bad input gets a 4xx and changes nothing; a delivery we could not complete gets a 503 so Alertmanager retries.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web

from bot.alerts.model import MAX_BODY_BYTES, PayloadRejected, parse_payload
from bot.alerts.service import AlertService, Outcome
from bot.store import LockTimeout

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/alerts/webhook"


def _reply(status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=status, dumps=json.dumps)


def build_app(service: AlertService, token: str) -> web.Application:
    if not token:
        raise ValueError("the alert receiver needs a bearer token (ALERTS_TOKEN)")
    expected = f"Bearer {token}".encode()

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.json_response(
                {"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": 'Bearer realm="kubeduty"'}
            )
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _reply(413, error="body too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _reply(413, error="body too large")
        try:
            payload = parse_payload(body)
        except PayloadRejected as exc:
            status = 413 if exc.reason == "body too large" else 400
            return _reply(status, error=exc.reason)
        try:
            receipt = await service.receive(payload)
        except LockTimeout:
            return _reply(503, error="busy with this group; retry")
        if receipt.failed_chats:
            return _reply(503, error="delivery failed", chats=receipt.failed_chats, incident=receipt.incident_id)
        status = 200 if receipt.outcome is not Outcome.IGNORED else 202
        return _reply(status, outcome=receipt.outcome.value, incident=receipt.incident_id)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(WEBHOOK_PATH, webhook)
    return app


class Receiver:
    """The webhook server's lifetime, for `kubeduty run` and the tests (port 0 = any free port)."""

    def __init__(self, service: AlertService, *, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = build_app(service, token)
        self._host = host
        self._want = port
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}{WEBHOOK_PATH}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._want)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self._want
        log.info("alert receiver on %s", self.url)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
