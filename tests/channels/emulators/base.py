"""An aiohttp server on 127.0.0.1 in a thread of its own, and the record of the OpenAPI calls it received."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


class EmulatorServer:
    """Subclasses add routes in `routes()`; tests talk to the server through `run()` (thread-safe)."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self._calls_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    # --- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._setup())
            except Exception as exc:  # noqa: BLE001 - surfaced to the test below
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._teardown())
            loop.close()

        self._thread = threading.Thread(target=main, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]

    async def _setup(self) -> None:
        app = web.Application()
        app.middlewares.append(self._record)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _teardown(self) -> None:
        await self.on_stop()
        await self._drop()  # an SDK still connected would hold the server's graceful shutdown open
        if self._runner is not None:
            await self._runner.cleanup()

    async def on_stop(self) -> None:
        return None

    async def _drop(self) -> None:
        return None

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    # --- talking to the emulator from a test ------------------------------------------------------------------

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return await asyncio.wrap_future(self.submit(coro))

    # --- the record of OpenAPI calls --------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raw = await request.read()
            body: Any = None
            if raw:
                try:
                    body = await request.json()
                except ValueError:
                    body = raw.decode(errors="replace")
            response: web.StreamResponse = await handler(request)
            # Recorded after the handler ran, so a test that saw the call also sees its effect.
            call = ApiCall(request.method, request.path, dict(request.query), dict(request.headers), body, time.time())
            with self._calls_lock:
                self.calls.append(call)
            return response
        return await handler(request)

    def calls_to(self, method: str, path_prefix: str) -> list[ApiCall]:
        with self._calls_lock:
            return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]

    async def wait_calls(self, method: str, path_prefix: str, count: int = 1, within: float = 15.0) -> list[ApiCall]:
        """Wait until at least `count` matching calls arrived; returns them (fails the test on timeout)."""
        deadline = time.monotonic() + within
        while True:
            found = self.calls_to(method, path_prefix)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = [(c.method, c.path) for c in self.calls]
                raise AssertionError(f"expected {count} x {method} {path_prefix}, got {len(found)}; all calls: {seen}")
            await asyncio.sleep(0.02)

    async def quiet(self, seconds: float = 0.5) -> None:
        """Let in-flight work land before asserting that something did NOT happen."""
        await asyncio.sleep(seconds)
