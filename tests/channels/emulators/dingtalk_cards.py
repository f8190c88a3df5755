"""What the DingTalk emulator adds for card instances: per-user views (`privateData`), the delivery's at-list and
chat-list preview, a refusal of over-size request bodies, and the tenant's card-update rate (~20 QPS, 403 QpsLimit).

Hooked into `dingtalk.py`'s createAndDeliver / card update handlers with a couple of lines. Per-user data follows
the official OpenAPI models (CreateAndDeliverRequest.privateData: {userId: PrivateDataValue{cardParamMap}};
UpdateCardRequest.cardUpdateOptions.updatePrivateDataByKey): a user's private `cardParamMap` is laid over the
public one for that user only, and stays until an update overwrites it. DingTalk documents no byte limit that we
could find; the emulator refuses bodies over the limit the bot assumes (bot.render.dingtalk.MAX_BODY_BYTES), so a
body the bot did not fit is caught here rather than in production.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.channels.emulators.dingtalk import DingTalkEmulator, SentCard

MAX_BODY_BYTES = 24_000
ROBOT_MSG_PARAM_BYTES = 15_000  # robot messages: the msgParam cap a third-party client documents (see the bot)
TENANT_UPDATES_PER_SECOND = 20  # `PUT /v1.0/card/instances` per tenant: more in any second is 403 QpsLimit


@dataclass
class CardExtras:
    private: dict[str, dict[str, str]] = field(default_factory=dict)  # staffId -> private cardParamMap
    at_users: dict[str, str] = field(default_factory=dict)
    preview: dict[str, str] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)  # request body bytes of the create and every update


_extras: weakref.WeakKeyDictionary[DingTalkEmulator, dict[str, CardExtras]] = weakref.WeakKeyDictionary()


def extras(emu: DingTalkEmulator, out_track_id: str) -> CardExtras:
    return _extras.setdefault(emu, {}).setdefault(out_track_id, CardExtras())


def _private(body: dict[str, Any], variables: frozenset[str]) -> dict[str, dict[str, str]] | str:
    raw = body.get("privateData")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return "privateData must map user ids to {cardParamMap}"
    out: dict[str, dict[str, str]] = {}
    for user, value in raw.items():
        params = value.get("cardParamMap") if isinstance(value, dict) else None
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            return f"privateData[{user!r}].cardParamMap must map strings to strings"
        unknown = set(params) - variables
        if unknown:
            return f"privateData variables the template does not declare: {sorted(unknown)}"
        out[str(user)] = dict(params)
    return out


async def refusal(emu: DingTalkEmulator, request: web.Request, body: dict[str, Any]) -> web.Response | None:
    """Checks before a card is created or updated: the body size as received, and the privateData shape."""
    from tests.channels.emulators.dingtalk import TEMPLATE_VARIABLES

    if request.method == "PUT" and (busy := _tenant_rate(emu)) is not None:
        return busy
    size = len(await request.read())
    if size > MAX_BODY_BYTES:
        return emu._refuse("param.invalid", f"request body of {size} bytes is over {MAX_BODY_BYTES}")
    checked = _private(body, TEMPLATE_VARIABLES)
    if isinstance(checked, str):
        return emu._refuse("param.invalid", checked)
    return None


_updates: weakref.WeakKeyDictionary[DingTalkEmulator, deque[float]] = weakref.WeakKeyDictionary()


def updates_at(emu: DingTalkEmulator) -> list[float]:
    """Arrival times (monotonic) of the card updates let through the tenant rate, oldest first."""
    return list(_updates.get(emu, ()))


def busiest_second(emu: DingTalkEmulator) -> int:
    times = updates_at(emu)
    return max((sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times)), default=0)


def _tenant_rate(emu: DingTalkEmulator) -> web.Response | None:
    now = time.monotonic()
    seen = _updates.setdefault(emu, deque(maxlen=10_000))
    recent = sum(1 for t in seen if now - t < 1.0)
    if recent >= TENANT_UPDATES_PER_SECOND:
        emu.refused.append(f"QpsLimit: {recent + 1} card updates within a second (tenant limit)")
        return web.json_response({"code": "QpsLimit", "message": "card update QPS over the tenant limit"}, status=403)
    seen.append(now)
    return None


async def record(emu: DingTalkEmulator, request: web.Request, out_track_id: str, body: dict[str, Any]) -> None:
    """After a create or update was accepted: keep its private data, at-list and preview."""
    from tests.channels.emulators.dingtalk import TEMPLATE_VARIABLES

    ex = extras(emu, out_track_id)
    ex.sizes.append(len(await request.read()))
    private = _private(body, TEMPLATE_VARIABLES)
    assert isinstance(private, dict)
    by_key = bool((body.get("cardUpdateOptions") or {}).get("updatePrivateDataByKey"))
    for user, params in private.items():
        ex.private[user] = {**ex.private.get(user, {}), **params} if by_key else params
    for model in ("imGroupOpenDeliverModel",):
        at = (body.get(model) or {}).get("atUserIds")
        if isinstance(at, dict):
            ex.at_users = {str(k): str(v) for k, v in at.items()}
    for model in ("imGroupOpenSpaceModel", "imRobotOpenSpaceModel"):
        preview = (body.get(model) or {}).get("lastMessageI18n")
        if isinstance(preview, dict):
            ex.preview = {str(k): str(v) for k, v in preview.items()}


def seen_by(emu: DingTalkEmulator, card: SentCard, user_id: str) -> SentCard:
    """The card as `user_id` sees it: the public data with that user's private data laid over it."""
    private = extras(emu, card.out_track_id).private.get(user_id, {})
    return replace(card, data={**card.data, **private}, versions=list(card.versions))


def robot_refusal(emu: DingTalkEmulator, body: dict[str, Any]) -> web.Response | None:
    """Robot messages: a `msgParam` over the cap is refused."""
    size = len(str(body.get("msgParam", "")).encode())
    if size > ROBOT_MSG_PARAM_BYTES:
        return emu._refuse("param.invalid", f"msgParam of {size} bytes is over {ROBOT_MSG_PARAM_BYTES}")
    return None
