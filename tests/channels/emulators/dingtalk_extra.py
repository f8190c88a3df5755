"""DingTalk OpenAPI routes the alert loop uses, added to `DingTalkEmulator` by `register` (one line in `routes()`):
media upload and robot DING, plus checks on every card delivery and robot markdown the bot sends.

What is accepted is what DingTalk documents: media upload on the old OpenAPI route (`POST /media/upload?
access_token=`, multipart `type` + `media`; images jpg/png/gif/bmp up to 20 MB; answers in the oapi style
`{errcode, errmsg, media_id}`, HTTP 200 even for errors); DING (`POST /v1.0/robot/ding/send`, robot_1.0
RobotSendDing: the app's robotCode, remindType 1|2|3, 1..200 receivers for in-app (20 for SMS/phone), content;
unknown receivers come back in `failedList`, as the doc's response says); a card's at-list
(`imGroupOpenDeliverModel.atUserIds`) maps well-formed staff ids to names (people outside the group are recorded
as not notified), or is exactly {"@ALL": "@ALL"}; markdown may show only media this app uploaded.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.channels.emulators.multipart import form_fields

if TYPE_CHECKING:
    from tests.channels.emulators.dingtalk import DingTalkEmulator

MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_STAFF = re.compile(r"^[0-9A-Za-z_$-]{1,64}$")
_MEDIA_REF = re.compile(r"!\[[^\]]*\]\((@[^)\s]*)\)")


@dataclass
class Ding:
    robot_code: str
    remind_type: int
    receivers: list[str]
    content: str


@dataclass
class DingTalkExtras:
    emu: DingTalkEmulator
    # conversationId -> staff ids of its members; a conversation not listed counts every staff id as a member
    members: dict[str, set[str]] = field(default_factory=dict)
    # the organisation's staff ids; None: any well-formed staff id exists
    staff: set[str] | None = None
    media: dict[str, bytes] = field(default_factory=dict)
    dings: list[Ding] = field(default_factory=list)
    card_mentions: dict[str, dict[str, str]] = field(default_factory=dict)  # outTrackId -> atUserIds
    refused: list[str] = field(default_factory=list)
    not_notified: list[str] = field(default_factory=list)  # at-list ids that are not members of the group
    fail_uploads: bool = False
    refuse_at_all: bool = False  # a group where the robot may not @all
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def exists(self, staff_id: str) -> bool:
        return bool(_STAFF.match(staff_id)) and (self.staff is None or staff_id in self.staff)

    def in_group(self, conversation_id: str, staff_id: str) -> bool:
        listed = self.members.get(conversation_id)
        return self.exists(staff_id) and (listed is None or staff_id in listed)

    def _refuse(self, code: str, why: str, status: int = 400) -> web.Response:
        self.refused.append(f"{code}: {why}")
        return web.json_response({"code": code, "message": why}, status=status)

    # --- routes -------------------------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != self.emu.token:
            self.refused.append("40014: invalid access_token")
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        if self.fail_uploads:
            return web.json_response({"errcode": -1, "errmsg": "系统繁忙"})
        form = await form_fields(request)
        kind, media = form.get("type"), form.get("media")
        if kind is None or kind.data not in (b"image", b"voice", b"video", b"file") or media is None:
            self.refused.append("40004: type and media are required")
            return web.json_response({"errcode": 40004, "errmsg": "不合法的媒体文件类型"})
        if kind.data == b"image" and (len(media.data) > MAX_IMAGE_BYTES or not media.data.startswith(IMAGE_MAGIC)):
            self.refused.append("40005: not an image DingTalk takes")
            return web.json_response({"errcode": 40005, "errmsg": "不合法的文件类型"})
        media_id = f"@lADP{next(self._ids):04d}{uuid.uuid4().hex[:16]}"
        self.media[media_id] = media.data
        return web.json_response({"errcode": 0, "errmsg": "ok", "media_id": media_id, "type": kind.data.decode()})

    async def ding(self, request: web.Request) -> web.Response:
        if not self.emu._authorized(request):
            return web.json_response({"code": "InvalidAuthentication"}, status=401)
        body = await request.json()
        if body.get("robotCode") != self.emu.client_id:
            return self._refuse("invalid.chatbotId", f"invalid.chatbotId {body.get('robotCode')!r}")
        remind = body.get("remindType")
        receivers = body.get("receiverUserIdList")
        content = body.get("content")
        if remind not in (1, 2, 3) or not isinstance(content, str) or not content:
            return self._refuse("invalidParameter.param.invalid", "remindType 1|2|3 and content are required")
        if not isinstance(receivers, list) or not receivers or not all(isinstance(r, str) for r in receivers):
            return self._refuse("miss.staffId", "receiverUserIdList must name staff ids")
        if len(receivers) > (200 if remind == 1 else 20):
            return self._refuse("ding.receivercount.limit", "ding receiver count limit")
        unknown = [r for r in receivers if not self.exists(r)]
        known = [r for r in receivers if r not in unknown]
        if not known:
            return self._refuse("miss.staffId", f"no valid receiver in {receivers}")
        self.dings.append(Ding(str(body["robotCode"]), int(remind), known, content))
        answer: dict[str, Any] = {"openDingId": uuid.uuid4().hex[:12]}
        if unknown:
            answer["failedList"] = {"miss.staffId": unknown}
        return web.json_response(answer)

    # --- checks on what the bot sends ---------------------------------------------------------------------------

    def _media_problem(self, texts: list[str]) -> str | None:
        for text in texts:
            for ref in _MEDIA_REF.findall(text):
                if ref not in self.media:
                    return f"media {ref!r} was not uploaded by this robot"
        return None

    @web.middleware
    async def check(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        path, method = request.path, request.method
        body: Any = None
        if (method, path) in (
            ("POST", "/v1.0/card/instances/createAndDeliver"),
            ("PUT", "/v1.0/card/instances"),
            ("POST", "/v1.0/robot/groupMessages/send"),
        ):
            try:
                body = json.loads(await request.read())
            except ValueError:
                body = None
        if isinstance(body, dict):
            params = (body.get("cardData") or {}).get("cardParamMap") or {}
            texts = [v for v in params.values() if isinstance(v, str)] if isinstance(params, dict) else []
            if path == "/v1.0/robot/groupMessages/send":
                try:
                    texts = [str(json.loads(body.get("msgParam") or "{}").get("text", ""))]
                except (ValueError, AttributeError):
                    texts = []
            problem = self._media_problem(texts)
            at = (body.get("imGroupOpenDeliverModel") or {}).get("atUserIds")
            if problem is None and at is not None:
                problem = self._at_problem(at, str(body.get("openSpaceId", "")))
            if problem:
                return self._refuse("param.invalid", problem)
        response: web.StreamResponse = await handler(request)
        if isinstance(body, dict) and path.endswith("createAndDeliver") and response.status == 200:
            at = (body.get("imGroupOpenDeliverModel") or {}).get("atUserIds")
            if at:
                self.card_mentions[str(body.get("outTrackId"))] = dict(at)
        return response

    def _at_problem(self, at: Any, space: str) -> str | None:
        if not isinstance(at, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in at.items()):
            return "atUserIds must map staff ids to names"
        if "@ALL" in at:
            if self.refuse_at_all:
                return "the robot may not @all in this group"
            return None if at == {"@ALL": "@ALL"} else "@ALL is given alone, as {'@ALL': '@ALL'}"
        if not all(_STAFF.match(k) for k in at):
            return f"malformed staff ids in atUserIds: {sorted(at)}"
        conversation = space.removeprefix("dtv1.card//IM_GROUP.")
        # people outside the group are not notified (DingTalk does not say; the emulator records who was)
        self.not_notified += [k for k in at if not self.in_group(conversation, k)]
        return None


def register(emu: DingTalkEmulator, app: web.Application) -> DingTalkExtras:
    extras = DingTalkExtras(emu)
    app.router.add_post("/media/upload", extras.upload)
    app.router.add_post("/v1.0/robot/ding/send", extras.ding)
    app.middlewares.append(extras.check)
    return extras
