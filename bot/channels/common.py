"""What the platform adapters share: the bot they feed, their health, hand-off between loops, addressing rules."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.core.actions import ActionCodec
from bot.core.events import InboundEvent, MessageEvent
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.core.typed_lang import typed_lang

log = logging.getLogger(__name__)


class DispatcherLike(Protocol):
    async def submit(self, event: InboundEvent, responder: Responder) -> bool: ...


class BotLike(Protocol):
    """What `bot.app.build_bot(settings)` returns, as far as the channels are concerned."""

    @property
    def dispatcher(self) -> DispatcherLike: ...

    @property
    def codec(self) -> ActionCodec: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class Adapter(Protocol):
    """One platform connection. `start` returns once the SDK thread is running (not necessarily connected)."""

    @property
    def health(self) -> Health: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Health:
    """Per-platform connection status, written from the SDK thread, read from the bot's loop (`/healthz`)."""

    platform: str
    connected: bool = False
    last_error: str | None = None
    connects: int = 0  # successful connections; > 1 means the SDK reconnected
    since: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def up(self) -> None:
        with self._lock:
            self.connects += 1
            self.connected = True
            self.since = time.time()
        log.info("%s: connected (connection #%d)", self.platform, self.connects)

    def down(self, error: str | None = None) -> None:
        with self._lock:
            was = self.connected
            self.connected = False
            self.since = time.time()
            if error:
                self.last_error = error[:300]
        if was or error:
            log.warning("%s: disconnected%s", self.platform, f": {error}" if error else "")

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "connected": self.connected,
                "last_error": self.last_error,
                "connects": self.connects,
                "since": round(self.since, 3),
            }


class LoopBridge:
    """Hands work from an SDK's thread to the bot's loop without waiting for it (the SDK acks at once)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, platform: str) -> None:
        self._loop = loop
        self._platform = platform

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        future.add_done_callback(self._log_failure)
        return future

    def _log_failure(self, future: Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("%s: handing an event to the bot failed", self._platform, exc_info=future.exception())


def addressed_text(text: str, *, is_group: bool, mentioned: bool) -> str | None:
    """The text the bot should act on, or None to stay silent: DMs always; groups only when @mentioned,
    or for a `/` command (some tenants let the bot see every group message)."""
    clean = text.strip() if text else ""
    if not is_group or mentioned or clean.startswith("/"):
        return clean  # may be "" (a bare @mention): the bot answers with its help
    return None


def close_sdk_loop(loop: asyncio.AbstractEventLoop) -> None:
    """End an SDK thread's own loop: cancel what the SDK left running (reconnect sleeps, pings), then close."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


def stop_thread(thread: threading.Thread | None, timeout: float = 5.0) -> bool:
    """Join an SDK thread; a thread stuck in a blocking call without a timeout is left behind (daemon)."""
    if thread is None:
        return True
    thread.join(timeout)
    if thread.is_alive():
        log.warning("%s did not stop within %.0fs; abandoning it (daemon thread)", thread.name, timeout)
        return False
    return True


def reply_lang(event: InboundEvent) -> Lang:
    """The language to answer in: the message's own, Chinese for clicks (cards carry `meta["lang"]` if known)."""
    if isinstance(event, MessageEvent):
        return event.lang or typed_lang(event.text)  # a slash command keeps the default
    return event.lang or Lang.ZH  # a click: the clicked card's language when the platform said


def has_lone_surrogate(*texts: str) -> bool:
    """True when any text holds a lone UTF-16 surrogate (JSON `"\\ud800"` decodes to one): it cannot be encoded
    as UTF-8, so it would fail deep inside the bot (store, signatures) as a generic error."""
    return any(any("\ud800" <= ch <= "\udfff" for ch in t) for t in texts if t)


def invalid_input_text(lang: Lang, *, button: bool = False) -> str:
    """The answer to input that cannot be read at all, in the user's language."""
    if button:
        return tr(
            lang,
            "按钮数据无效（包含无法识别的字符），已忽略。",
            "Invalid button data (unreadable characters); ignored.",
        )
    return tr(
        lang,
        "无法处理这条消息：其中包含无效字符，请重新输入。",
        "I can't read that message: it contains invalid characters. Please type it again.",
    )
