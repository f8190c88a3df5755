"""DingTalk extras the alert loop needs, made with the adapter's `DingTalkApi` (async, with timeouts):

- Chart images: `POST /media/upload?access_token=…` (multipart: `type=image`, file field `media`) returns a
  `media_id` (`@lA…`) that card and robot markdown show as `![alt](media_id)` (open.dingtalk.com "上传媒体文件",
  https://open.dingtalk.com/document/orgapp/upload-media-files). It lives on the OLD OpenAPI host: the SDK's
  `upload_to_dingtalk` posts to https://oapi.dingtalk.com hard-wired, so it is not used; we post to the same route
  on `media_base()`: oapi.dingtalk.com for the real API endpoint, the configured endpoint otherwise (an
  emulator, a proxy). The new-style app token (`/v1.0/oauth2/accessToken`) is accepted there for internal apps.
- The strongest reminder a robot has: DING. `POST /v1.0/robot/ding/send` {robotCode, remindType, receiverUserIdList,
  content} (robot_1.0 RobotSendDing; permission 企业机器人发送撤回DING消息 Premium.Ding.Write; DingTalk
  professional/exclusive editions; remindType 1 in-app, 2 SMS, 3 phone call, the last two on a paid quota). We send
  in-app DING (1). Its answer may list refused receivers (`failedList`). The @all of the card delivery
  (`atUserIds {"@ALL": "@ALL"}`) is the reminder every tenant has; DING comes on top when the tenant allows it.
"""

from __future__ import annotations

import json
import logging
import weakref
from typing import Any

import aiohttp

from bot.channels.charts import ChartImages
from bot.channels.dingtalk.api import DingTalkApi, DingTalkApiError

log = logging.getLogger(__name__)

REAL_API = "https://api.dingtalk.com"
REAL_OAPI = "https://oapi.dingtalk.com"
REMIND_IN_APP = 1
MAX_DING_RECEIVERS = 20  # DingTalk allows < 200 in-app receivers; an alert pages the on-call people, not a crowd
MAX_DING_CHARS = 500


_CHARTS: weakref.WeakKeyDictionary[DingTalkApi, ChartImages] = weakref.WeakKeyDictionary()


def charts_for(api: DingTalkApi) -> ChartImages:
    """The chart uploader of this app's API client (one per adapter, so its cache holds only its own media ids)."""
    charts = _CHARTS.get(api)
    if charts is None:
        charts = _CHARTS[api] = ChartImages(lambda png: upload_image(api, png), platform="dingtalk")
    return charts


def media_base(api: DingTalkApi) -> str:
    base = api._base
    return REAL_OAPI if base == REAL_API else base


async def upload_image(api: DingTalkApi, png: bytes, filename: str = "chart.png") -> str:
    """Upload an image; returns its media id."""
    for attempt in (1, 2):
        token = await api._access_token()
        form = aiohttp.FormData()
        form.add_field("type", "image")
        form.add_field("media", png, filename=filename, content_type="image/png")
        url = f"{media_base(api)}/media/upload"
        async with api._http().post(url, params={"access_token": token}, data=form) as resp:
            text = await resp.text()
            if resp.status == 401 and attempt == 1:
                api._token = None
                continue
        try:
            doc: Any = json.loads(text)
        except ValueError:
            doc = {}
        if resp.status >= 300 or not isinstance(doc, dict) or doc.get("errcode", 0) != 0 or not doc.get("media_id"):
            raise DingTalkApiError(f"media upload: HTTP {resp.status}: {text[:200]}")
        return str(doc["media_id"])
    raise DingTalkApiError("media upload: unauthorized")


async def send_ding(api: DingTalkApi, staff_ids: list[str], content: str) -> list[str]:
    """An in-app DING from the robot to these people; returns the ids DingTalk refused."""
    ids = list(dict.fromkeys(staff_ids))[:MAX_DING_RECEIVERS]
    if not ids:
        return []
    body = {
        "robotCode": api.robot_code,
        "remindType": REMIND_IN_APP,
        "receiverUserIdList": ids,
        "content": content[:MAX_DING_CHARS],
    }
    doc = await api._call("POST", "/v1.0/robot/ding/send", body)
    failed = doc.get("failedList")
    groups = failed.values() if isinstance(failed, dict) else []
    refused = [str(u) for users in groups if isinstance(users, list) for u in users]
    if refused:
        log.warning("dingtalk: DING refused for %d of %d people: %s", len(refused), len(ids), failed)
    return refused
