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

from bot.render.dingtalk import MAX_BODY_BYTES, ROBOT_MSG_PARAM_BYTES

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

    async def _call(
        self, method: str, path: str, body: dict[str, Any], *, max_bytes: int | None = None
    ) -> dict[str, Any]:
        # Compact UTF-8 JSON (aiohttp's `json=` would \u-escape every Chinese character, doubling its size): the
        # bytes measured against a limit are the bytes sent.
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        if max_bytes is not None and len(data) > max_bytes:
            raise DingTalkApiError(f"{method} {path}: body of {len(data)} bytes is over the {max_bytes}-byte limit")
        for attempt in (1, 2):
            token = await self._access_token()
            headers = {"x-acs-dingtalk-access-token": token, "Content-Type": "application/json"}
            async with self._http().request(method, f"{self._base}{path}", data=data, headers=headers) as resp:
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

    async def send_card(
        self,
        template_id: str,
        card_data: dict[str, str],
        *,
        conversation_id: str | None,
        user_id: str | None,
        private: dict[str, dict[str, str]] | None = None,
        at_users: dict[str, str] | None = None,
        preview: dict[str, str] | None = None,
    ) -> str:
        """Create and deliver an advanced message card to a group (`conversation_id`) or to a user's 1:1 chat
        with the robot (`user_id`); returns its outTrackId, the handle for `update_card` and the id a click names.

        The body is the one `dingtalk_stream.CardReplier.create_and_deliver_card` sends (SDK 0.24.3,
        card_replier.py; https://open.dingtalk.com/document/orgapp/create-and-deliver-cards). `callbackType`
        STREAM is what routes clicks to `/v1.0/card/instances/callback` on the Stream connection; DingTalk's
        console callback setting does not apply to cards (open-dingtalk/developerpedia docs/learn/card/intro.md).

        `private`: staffId -> the `cardParamMap` values that user sees instead of the public ones (`privateData`,
        a map of PrivateDataValue {cardParamMap}; official OpenAPI model CreateAndDeliverRequest). `at_users`:
        staffId -> name, the group delivery's at-list (`imGroupOpenDeliverModel.atUserIds`), which notifies them.
        `preview`: the chat list's line per client language (`im*OpenSpaceModel.lastMessageI18n`, keys ZH_CN /
        EN_US as in DingTalk's Java sample), instead of the generic "[卡片]"."""
        out_track_id = uuid.uuid4().hex
        body: dict[str, Any] = {
            "cardTemplateId": template_id,
            "outTrackId": out_track_id,
            "callbackType": "STREAM",
            "cardData": {"cardParamMap": card_data},
            "userIdType": 1,  # userId = staffId
        }
        if private:
            body["privateData"] = {user: {"cardParamMap": data} for user, data in private.items()}
        space: dict[str, Any] = {"supportForward": False}  # a forwarded copy's buttons would be dead
        if preview:
            space["lastMessageI18n"] = dict(preview)
        if conversation_id:
            body["openSpaceId"] = f"dtv1.card//IM_GROUP.{conversation_id}"
            body["imGroupOpenSpaceModel"] = space
            deliver: dict[str, Any] = {"robotCode": self.robot_code}
            if at_users:
                deliver["atUserIds"] = dict(at_users)
            body["imGroupOpenDeliverModel"] = deliver
        elif user_id:
            body["openSpaceId"] = f"dtv1.card//IM_ROBOT.{user_id}"
            body["imRobotOpenSpaceModel"] = space
            body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT"}
        else:
            raise DingTalkApiError("send_card: no conversation and no user")
        doc = await self._call("POST", "/v1.0/card/instances/createAndDeliver", body, max_bytes=MAX_BODY_BYTES)
        # HTTP 200 can still carry a failed delivery per space (e.g. the robot is not in the group).
        result = doc.get("result")
        results = result.get("deliverResults") if isinstance(result, dict) else None
        for item in results if isinstance(results, list) else []:
            if isinstance(item, dict) and item.get("success") is False:
                raise DingTalkApiError(f"send_card: not delivered: {str(item.get('errorMsg'))[:200]}")
        return out_track_id

    async def update_card(
        self, out_track_id: str, card_data: dict[str, str], *, private: dict[str, dict[str, str]] | None = None
    ) -> None:
        """Replace the card's public data (https://open.dingtalk.com/document/orgapp/interactive-card-update-interface;
        SDK `CardReplier.put_card_data`). Every variable is sent, so a full overwrite is what we want. `private`
        replaces those users' private data (`updatePrivateDataByKey` false): how an approver's button goes away."""
        body: dict[str, Any] = {
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": card_data},
            "cardUpdateOptions": {"updateCardDataByKey": False, "updatePrivateDataByKey": False},
        }
        if private:
            body["privateData"] = {user: {"cardParamMap": data} for user, data in private.items()}
        await self._call("PUT", "/v1.0/card/instances", body, max_bytes=MAX_BODY_BYTES)

    async def stream_card(
        self, out_track_id: str, key: str, content: str, *, finalize: bool = False, error: bool = False
    ) -> None:
        """AI card streaming (`PUT /v1.0/card/streaming`, permission Card.Streaming.Write; SDK 0.24.3
        `AICardReplier.streaming`): the FULL text of variable `key` (isFull), `isFinalize` on the last one."""
        body = {
            "outTrackId": out_track_id,
            "guid": uuid.uuid4().hex,
            "key": key,
            "content": content,
            "isFull": True,
            "isFinalize": finalize,
            "isError": error,
        }
        await self._call("PUT", "/v1.0/card/streaming", body)

    async def send_markdown(self, title: str, text: str, *, conversation_id: str | None, user_id: str | None) -> None:
        """A robot markdown message: the fallback reply when no card template is configured."""
        await self._send_robot_message(
            "sampleMarkdown", {"title": title, "text": text}, conversation_id=conversation_id, user_id=user_id
        )

    async def send_text(self, text: str, *, conversation_id: str | None, user_id: str | None) -> None:
        await self._send_robot_message(
            "sampleText", {"content": text}, conversation_id=conversation_id, user_id=user_id
        )

    async def _send_robot_message(
        self, msg_key: str, param: dict[str, str], *, conversation_id: str | None, user_id: str | None
    ) -> None:
        """Robot messages (permission qyapi_robot_sendmsg): group `POST /v1.0/robot/groupMessages/send`, 1:1
        `POST /v1.0/robot/oToMessages/batchSend`; `msgParam` is a JSON string (official OpenAPI SDK models
        OrgGroupSendRequest / BatchSendOTORequest)."""
        msg_param = json.dumps(param, ensure_ascii=False)
        if len(msg_param.encode()) > ROBOT_MSG_PARAM_BYTES:
            raise DingTalkApiError(f"{msg_key}: msgParam of {len(msg_param.encode())} bytes is over the limit")
        if conversation_id:
            body: dict[str, Any] = {
                "robotCode": self.robot_code,
                "openConversationId": conversation_id,
                "msgKey": msg_key,
                "msgParam": msg_param,
            }
            await self._call("POST", "/v1.0/robot/groupMessages/send", body)
        elif user_id:
            body = {"robotCode": self.robot_code, "userIds": [user_id], "msgKey": msg_key, "msgParam": msg_param}
            await self._call("POST", "/v1.0/robot/oToMessages/batchSend", body)
        else:
            raise DingTalkApiError(f"{msg_key}: no conversation and no user")
