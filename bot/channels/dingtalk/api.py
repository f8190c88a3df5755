"""DingTalk OpenAPI calls the bot makes (cards, updates, plain text), async with timeouts.

The SDK's own reply helpers are synchronous `requests` calls without a timeout; a slow DingTalk would hang
a worker thread forever. These calls are few and documented, so they are made here with aiohttp instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

TOKEN_MARGIN_SECONDS = 300  # refresh a little before DingTalk says the token expires


class DingTalkApiError(Exception):
    pass


class DingTalkApi:
    def __init__(self, *, base_url: str, client_id: str, client_secret: str, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()

    @property
    def robot_code(self) -> str:
        return self._client_id  # an app's robot code is its client id (AppKey)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token and self._token[1] > time.time():
                return self._token[0]
            body = {"appKey": self._client_id, "appSecret": self._client_secret}
            async with self._http().post(f"{self._base}/v1.0/oauth2/accessToken", json=body) as resp:
                text = await resp.text()
                if resp.status != 200:
                    raise DingTalkApiError(f"access token: HTTP {resp.status}: {text[:200]}")
                doc = json.loads(text)
            token, expire = str(doc["accessToken"]), int(doc.get("expireIn", 7200))
            self._token = (token, time.time() + max(60, expire - TOKEN_MARGIN_SECONDS))
            return token

    async def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self._access_token()
            headers = {"x-acs-dingtalk-access-token": token}
            async with self._http().request(method, f"{self._base}{path}", json=body, headers=headers) as resp:
                text = await resp.text()
                if resp.status == 401 and attempt == 1:
                    self._token = None  # revoked or expired early: fetch a new one once
                    continue
                if resp.status >= 300:
                    raise DingTalkApiError(f"{method} {path}: HTTP {resp.status}: {text[:200]}")
                try:
                    doc = json.loads(text) if text else {}
                except ValueError:
                    doc = {}
                return doc if isinstance(doc, dict) else {}
        raise DingTalkApiError(f"{method} {path}: unauthorized")

    async def send_card(self, card_data: dict[str, Any], *, conversation_id: str | None, user_id: str | None) -> str:
        """Send a robot interactive card to a group (`conversation_id`) or a 1:1 chat (`user_id`); returns its
        cardBizId, the handle for `update_card`."""
        biz_id = uuid.uuid4().hex
        body: dict[str, Any] = {
            "cardTemplateId": "StandardCard",
            "robotCode": self.robot_code,
            "cardBizId": biz_id,
            "cardData": json.dumps(card_data, ensure_ascii=False),
            "callbackType": "STREAM",  # button clicks come back over the Stream connection
            "sendOptions": {"atAll": False},
        }
        if conversation_id:
            body["openConversationId"] = conversation_id
        elif user_id:
            body["singleChatReceiver"] = json.dumps({"userId": user_id})
        else:
            raise DingTalkApiError("send_card: no conversation and no user")
        await self._call("POST", "/v1.0/im/v1.0/robot/interactiveCards/send", body)
        return biz_id

    async def update_card(self, card_biz_id: str, card_data: dict[str, Any]) -> None:
        body = {"cardBizId": card_biz_id, "cardData": json.dumps(card_data, ensure_ascii=False)}
        await self._call("PUT", "/v1.0/im/robots/interactiveCards", body)

    async def send_text(self, text: str, *, conversation_id: str | None, user_id: str | None) -> None:
        param = json.dumps({"content": text}, ensure_ascii=False)
        if conversation_id:
            body: dict[str, Any] = {
                "robotCode": self.robot_code,
                "openConversationId": conversation_id,
                "msgKey": "sampleText",
                "msgParam": param,
            }
            await self._call("POST", "/v1.0/robot/groupMessages/send", body)
        elif user_id:
            body = {"robotCode": self.robot_code, "userIds": [user_id], "msgKey": "sampleText", "msgParam": param}
            await self._call("POST", "/v1.0/robot/oToMessages/batchSend", body)
        else:
            raise DingTalkApiError("send_text: no conversation and no user")
