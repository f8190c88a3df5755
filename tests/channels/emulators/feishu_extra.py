"""Feishu OpenAPI routes the alert loop uses, added to `FeishuEmulator` by `register` (one line in `routes()`):
urgent escalation of a message and image upload, plus checks on every card the bot sends or patches.

What the emulator accepts is what Feishu documents (open.feishu.cn im/v1 message urgent_app, image create; card
JSON 2.0 `img` and markdown `<at>`): `urgent_app` only for a message THE BOT SENT, `user_id_type=open_id`, a
non-empty `user_id_list`; people not in the message's chat come back in `invalid_user_id_list` and are not
escalated to. Images: `image_type` message|avatar, a real PNG/JPEG/GIF/BMP, at most 10 MB. A card may show
only images this app uploaded, and its `<at id=...>` tags must name `all` or an open id. Error codes are Feishu's
where we know them (230001 invalid parameter, 230011 message not found, 99992402 field validation), else close.
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
    from tests.channels.emulators.feishu import FeishuEmulator, FeishuMessage

MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_AT = re.compile(r"<at id=([^>\s]*)></at>")
_OPEN_ID = re.compile(r"^ou_[0-9A-Za-z_-]+$")


@dataclass
class Urgent:
    message_id: str
    chat_id: str
    user_ids: list[str]
    invalid: list[str]


@dataclass
class FeishuExtras:
    emu: FeishuEmulator
    # chat_id -> open ids of its members; a chat not listed here counts everyone with an open id as a member
    members: dict[str, set[str]] = field(default_factory=dict)
    urgent: list[Urgent] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    fail_uploads: bool = False  # a test turns uploads off to see the sparkline fallback
    refuse_at_all: bool = False  # a group where only admins may @all
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def is_member(self, chat_id: str, open_id: str) -> bool:
        if not _OPEN_ID.match(open_id):
            return False
        listed = self.members.get(chat_id)
        return listed is None or open_id in listed

    def _error(self, status: int, code: int, msg: str) -> web.Response:
        self.refused.append(f"{code}: {msg}")
        return web.json_response({"code": code, "msg": msg}, status=status)

    # --- routes -------------------------------------------------------------------------------------------------

    async def urgent_app(self, request: web.Request) -> web.Response:
        if not self.emu._authorized(request):
            return web.json_response({"code": 99991663, "msg": "invalid token"}, status=401)
        if request.query.get("user_id_type") != "open_id":
            return self._error(400, 99992402, "field validation failed: user_id_type")
        message_id = request.match_info["message_id"]
        msg = self.emu.messages.get(message_id)
        if msg is None:
            known = message_id in self.emu.inbound_chats
            return self._error(
                400, 230001 if known else 230011, "not a message the bot sent" if known else "message not found"
            )
        body = await request.json()
        ids = body.get("user_id_list") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return self._error(400, 230001, "user_id_list must be a non-empty list of ids")
        invalid = [i for i in ids if not self.is_member(msg.chat_id, i)]
        self.urgent.append(Urgent(message_id, msg.chat_id, [i for i in ids if i not in invalid], invalid))
        return web.json_response({"code": 0, "msg": "success", "data": {"invalid_user_id_list": invalid}})

    async def upload_image(self, request: web.Request) -> web.Response:
        if not self.emu._authorized(request):
            return web.json_response({"code": 99991663, "msg": "invalid token"}, status=401)
        if self.fail_uploads:
            return self._error(500, 234001, "internal error")
        form = await form_fields(request)
        image, kind = form.get("image"), form.get("image_type")
        # no filename needed: lark-oapi sends the file part without one (requests_toolbelt MultipartEncoder)
        if kind is None or kind.data not in (b"message", b"avatar") or image is None or not image.data:
            return self._error(400, 234001, "invalid request: image_type and image are required")
        data = image.data
        if len(data) > MAX_IMAGE_BYTES:
            return self._error(400, 234006, "image size exceeds 10 MB")
        if not data.startswith(IMAGE_MAGIC):
            return self._error(400, 234011, "cannot recognise the image format")
        key = f"img_v3_{next(self._ids):04d}_{uuid.uuid4().hex[:12]}"
        self.images[key] = data
        return web.json_response({"code": 0, "msg": "success", "data": {"image_key": key}})

    # --- checks on cards the bot sends --------------------------------------------------------------------------

    @web.middleware
    async def check_cards(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        path = request.path
        sends = request.method == "POST" and (path == "/open-apis/im/v1/messages" or path.endswith("/reply"))
        patches = request.method == "PATCH" and path.startswith("/open-apis/im/v1/messages/") and path.count("/") == 5
        if sends or patches:
            try:
                body = json.loads(await request.read())
                card = json.loads(body["content"]) if body.get("msg_type") == "interactive" else None
            except (ValueError, KeyError, TypeError):
                card = None
            if isinstance(card, dict):
                problem = self.card_problem(card)
                if problem:
                    return self._error(400, 230099, f"Failed to create card content: {problem}")
        response: web.StreamResponse = await handler(request)
        return response

    def card_problem(self, card: dict[str, Any]) -> str | None:
        for el in walk(card.get("body", {}).get("elements", [])):
            if el.get("tag") == "img" and el.get("img_key") not in self.images:
                return f"image key {el.get('img_key')!r} was not uploaded by this app"
            if el.get("tag") == "markdown":
                for at in _AT.findall(str(el.get("content", ""))):
                    if at != "all" and not _OPEN_ID.match(at):
                        return f"invalid mention id {at!r}"
                    if at == "all" and self.refuse_at_all:
                        return "no permission to @all in this chat"
        return None


def walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for el in items:
        out.append(el)
        for col in el.get("columns", []) if el.get("tag") == "column_set" else []:
            out.extend(walk(col.get("elements", [])))
    return out


def mentions(message: FeishuMessage) -> list[str]:
    """The ids a card message @-mentions (`all` for everyone), as Feishu reads them from its markdown."""
    found: list[str] = []
    for el in walk(message.content.get("body", {}).get("elements", [])) if message.msg_type == "interactive" else []:
        if el.get("tag") == "markdown":
            found += _AT.findall(str(el.get("content", "")))
    return found


def images(message: FeishuMessage) -> list[str]:
    """The image keys a card message shows."""
    elements = message.content.get("body", {}).get("elements", []) if message.msg_type == "interactive" else []
    return [str(el["img_key"]) for el in walk(elements) if el.get("tag") == "img"]


def register(emu: FeishuEmulator, app: web.Application) -> FeishuExtras:
    extras = FeishuExtras(emu)
    app.router.add_patch("/open-apis/im/v1/messages/{message_id}/urgent_app", extras.urgent_app)
    app.router.add_post("/open-apis/im/v1/images", extras.upload_image)
    app.middlewares.append(extras.check_cards)
    return extras
