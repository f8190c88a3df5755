"""Button actions and their signed, compact wire form.

A button carries `Action(op, args)` as a payload string: base64url(JSON) + "." + HMAC. The payload names the
conversation it was issued in and an expiry, so a forged, altered, expired or foreign payload is refused.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.core.i18n import Lang, tr

ArgValue = str | int | bool | float | None

MAX_PAYLOAD_CHARS = 1800  # below DingTalk's and Feishu's button value limits, with room for the platform's own wrapping


@dataclass(frozen=True, slots=True)
class Action:
    """What a button does. `op` says which handler; `args` are JSON scalars (or lists/dicts of them)."""

    op: str
    args: Mapping[str, Any] = field(default_factory=dict)


class PayloadError(StrEnum):
    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    FOREIGN = "foreign"
    TOO_LONG = "too_long"


class InvalidPayload(Exception):
    def __init__(self, reason: PayloadError) -> None:
        super().__init__(reason.value)
        self.reason = reason


def refusal_text(lang: Lang, reason: PayloadError) -> str:
    """Why a button was refused, for a channel that answers a click before the bot sees it."""
    if reason is PayloadError.EXPIRED:
        return tr(lang, "这个按钮已过期，请重新发起。", "This button has expired; please start again.")
    if reason is PayloadError.FOREIGN:
        return tr(lang, "这个按钮不属于这个会话。", "This button belongs to another chat.")
    if reason is PayloadError.FORGED:
        return tr(lang, "按钮数据无效（签名不符），已忽略。", "Invalid button data (bad signature); ignored.")
    return tr(lang, "按钮数据无效，已忽略。", "Invalid button data; ignored.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=4096)  # every button of every card hashes its chat's key: the same few chats
def _scope(chat_key: str) -> str:
    # surrogatepass: a chat id is the platform's, never refused here; odd code points still hash distinctly
    return hashlib.sha256(chat_key.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class ActionCodec:
    """Signs and verifies button payloads. Pure apart from the injected clock."""

    def __init__(self, secret: str, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("action secret must not be empty")
        self._key = secret.encode()
        self._ttl = ttl_seconds
        self._clock = clock

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16])

    def encode(self, action: Action, chat_key: str) -> str:
        doc = {"o": action.op, "a": dict(action.args), "c": _scope(chat_key), "e": int(self._clock()) + self._ttl}
        try:
            body = _b64(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError (lone surrogate) is a ValueError
            raise InvalidPayload(PayloadError.MALFORMED) from exc
        payload = f"{body}.{self._mac(body)}"
        if len(payload) > MAX_PAYLOAD_CHARS:
            raise InvalidPayload(PayloadError.TOO_LONG)
        return payload

    def decode(self, payload: str, chat_key: str) -> Action:
        # Our payloads are ASCII (base64url + "."): anything else (a non-ASCII MAC, a lone surrogate) is malformed
        # here, before compare_digest or encode() could raise something the caller does not expect.
        if (
            not isinstance(payload, str)
            or len(payload) > MAX_PAYLOAD_CHARS
            or not payload.isascii()
            or payload.count(".") != 1
        ):
            raise InvalidPayload(PayloadError.MALFORMED)
        body, mac = payload.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            raise InvalidPayload(PayloadError.FORGED)
        try:
            doc = json.loads(_unb64(body))
            op, args, scope, expiry = doc["o"], doc["a"], doc["c"], doc["e"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidPayload(PayloadError.MALFORMED) from exc
        if not isinstance(op, str) or not isinstance(args, dict) or not isinstance(expiry, int):
            raise InvalidPayload(PayloadError.MALFORMED)
        if scope != _scope(chat_key):
            raise InvalidPayload(PayloadError.FOREIGN)
        if expiry < self._clock():
            raise InvalidPayload(PayloadError.EXPIRED)
        return Action(op=op, args=args)


def run_tool_action(tool: str, args: Mapping[str, Any], *, plan: bool = False) -> Action:
    """A self-contained "run this tool" button (the conversation engine's `run` op): the tool and its arguments;
    whoever clicks runs it under their own identity and permissions. Any layer may offer one."""
    body: dict[str, Any] = {"t": tool, "a": {k: v for k, v in args.items() if v is not None}}
    if plan:
        body["pl"] = 1
    return Action("run", body)
