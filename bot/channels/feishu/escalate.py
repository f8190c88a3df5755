"""Feishu extras the alert loop needs: the urgent ("加急") escalation of a card the bot sent, and image upload for
chart images. Called with the running `FeishuAdapter` (its API client and token-retrying `_call`).

- `PATCH /open-apis/im/v1/messages/:message_id/urgent_app?user_id_type=open_id` {"user_id_list": [...]}: an
  in-app urgent notification of a message THE BOT SENT, to people in that chat; the answer lists ids it refused
  (`invalid_user_id_list`). lark-oapi: `im.v1.message.urgent_app` (UrgentAppMessageRequest, UrgentReceivers).
  Also exist: urgent_sms / urgent_phone, billed against the tenant's quota: not used.
- `POST /open-apis/im/v1/images` (multipart: image_type=message, image): returns `image_key` for a card's `img`
  element. lark-oapi: `im.v1.image.create`. Images up to 10 MB; ours are a few KB.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.channels.feishu.adapter import FeishuAdapter

log = logging.getLogger(__name__)

MAX_URGENT_USERS = 20


class FeishuEscalationError(Exception):
    pass


async def urgent_app(adapter: FeishuAdapter, message_id: str, open_ids: list[str]) -> list[str]:
    """Escalate the bot's message to these people; returns the ids Feishu refused (not in the chat, unknown)."""
    from lark_oapi.api.im.v1 import UrgentAppMessageRequest, UrgentReceivers

    ids = list(dict.fromkeys(open_ids))[:MAX_URGENT_USERS]
    if not ids:
        return []
    req = (
        UrgentAppMessageRequest.builder()
        .message_id(message_id)
        .user_id_type("open_id")
        .request_body(UrgentReceivers.builder().user_id_list(ids).build())
        .build()
    )
    resp = await adapter._call(adapter._api.im.v1.message.urgent_app, req)
    if not resp.success():
        raise FeishuEscalationError(f"urgent_app: code {resp.code}: {resp.msg}")
    invalid = list(resp.data.invalid_user_id_list or []) if resp.data is not None else []
    if invalid:
        log.warning("feishu: urgent_app refused %d of %d people (not in the chat?)", len(invalid), len(ids))
    return [str(x) for x in invalid]


async def upload_image(adapter: FeishuAdapter, png: bytes) -> str:
    """Upload a message image; returns its image_key."""
    from lark_oapi.api.im.v1 import CreateImageRequest, CreateImageRequestBody

    from bot.channels.feishu.adapter import TOKEN_INVALID_CODES

    for attempt in (1, 2):  # not `adapter._call`: its retry would resend a file object already read to the end
        req = (
            CreateImageRequest.builder()
            .request_body(CreateImageRequestBody.builder().image_type("message").image(io.BytesIO(png)).build())
            .build()
        )
        resp = await asyncio.to_thread(adapter._api.im.v1.image.create, req)
        if resp.code in TOKEN_INVALID_CODES and attempt == 1:
            adapter._forget_token()
            continue
        break
    if not resp.success() or resp.data is None or not resp.data.image_key:
        raise FeishuEscalationError(f"image upload: code {resp.code}: {resp.msg}")
    return str(resp.data.image_key)
