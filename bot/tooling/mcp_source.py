"""One MCP server as a `ToolSource`: our own catalogue in-process, or an external server over stdio or HTTP.

A background supervisor owns the connection (an `mcp.Client` must be entered and left by one task): it connects,
lists the tools, then waits for a list-changed notification, a failed call, or its periodic liveness probe. A
server that cannot be reached or drops is retried with exponential backoff (tenacity) and reported by `status()`;
meanwhile `list_tools()` answers at once with what is known and `call()` answers "unavailable", so one bad
server never blocks the other sources or the bot.

Trust: only the in-process server (ours) is believed about what its tools do. For an external server, a tool is a
read only when the operator's reviewed allow-list says so (see `mcp_config`); annotations are hints that can make
a tool stricter (a `destructiveHint` makes it mutating even if allow-listed) but never laxer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import mcp_types as mt
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.subscriptions import ListenNotSupportedError
from mcp.server.mcpserver import MCPServer
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from bot.core.tasks import TaskTracker
from bot.tooling.mcp_config import McpServerConfig
from bot.tooling.mcp_tools import bound_text, infer_resource_verb, tool_info, tool_outcome
from bot.tooling.status import SourceStatus, State, source_statuses
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome
from tools.mcp_server import IMPERSONATE_META_KEY
from tools.spec import ErrorCode

__all__ = ["McpSource", "SourceStatus", "bound_text", "infer_resource_verb", "source_statuses", "tool_info"]

log = logging.getLogger(__name__)


class _Dropped(Exception):
    """The connection was up and went away (internal)."""


class _ConnectFailed(Exception):
    """The connection could not be set up (internal; retried with backoff)."""


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class McpSource:
    """A `ToolSource` over one MCP server. Start it (or just call `list_tools`), close it with `aclose()`."""

    def __init__(
        self,
        config: McpServerConfig,
        *,
        tasks: TaskTracker | None = None,
        server: MCPServer | None = None,
        trusted: bool = False,
    ) -> None:
        self.name = config.name
        self.config = config
        self.prefix = config.tool_prefix
        self._server = server  # in-process target (ours)
        self._trusted = trusted
        self.redacts_output = trusted  # our own server redacts; the gateway masks what an external one returns
        self._tasks = tasks
        self._transport = "inprocess" if server is not None else config.transport
        self._client: Client | None = None
        self._tools: list[ToolInfo] = []
        self._remote: dict[str, str] = {}  # local (prefixed) name -> name on the server
        self._warnings: tuple[str, ...] = ()
        self._state: State = "idle"
        self._since = time.time()
        self._error: str | None = None
        self._failures = 0
        self._retry_at: float | None = None
        self._server_info = ""
        self._task: asyncio.Task[Any] | None = None
        self._first_attempt = asyncio.Event()
        self._up = asyncio.Event()
        self._wake = asyncio.Event()
        self._refresh_wanted = False
        self._dropped: str | None = None
        self._listeners: list[Callable[[McpSource], None]] = []
        self.tools_version = 0  # bumped whenever the tool list changes

    @classmethod
    def in_process(
        cls, server: MCPServer, *, name: str = "builtin", prefix: str = "", tasks: TaskTracker | None = None
    ) -> McpSource:
        """Our own server in this process: trusted for risk/verb/resource, no prefix by default."""
        config = McpServerConfig(name=name, url="http://in-process.invalid/", prefix=prefix, startup_wait_seconds=30)
        return cls(config, tasks=tasks, server=server, trusted=True)

    # ------------------------------------------------------------------ ToolSource
    async def list_tools(self) -> list[ToolInfo]:
        """The tools known now. The first call starts the source and waits (at most `startup_wait_seconds`)
        for its first connection attempt; later calls never wait."""
        await self.start()
        if not self._first_attempt.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_attempt.wait(), timeout=self.config.startup_wait_seconds)
        return list(self._tools)

    async def call(
        self,
        call: ToolCall,
        *,
        impersonate_user: str | None = None,
        impersonate_groups: Sequence[str] = (),
    ) -> ToolOutcome:
        """Run one tool; never raises. Acting as a user is possible on our own server only: an external server
        runs with its own credentials, so the call is refused rather than run with wider rights."""
        meta: dict[str, Any] | None = None
        if impersonate_user:
            if not self._trusted:
                return ToolOutcome(
                    ok=False,
                    error_code=ErrorCode.FORBIDDEN.value,
                    error=f"{call.tool}: MCP server {self.name} cannot act as user '{impersonate_user}'",
                )
            meta = {IMPERSONATE_META_KEY: {"user": impersonate_user, "groups": list(impersonate_groups)}}
        remote = self._remote.get(call.tool)
        if remote is None:
            if call.tool.startswith(self.prefix) and self._state != "up":
                return self._unavailable()
            return ToolOutcome(
                ok=False, error_code=ErrorCode.NOT_FOUND.value, error=f"{self.name} has no tool '{call.tool}'"
            )
        client = self._client
        if client is None or self._state != "up":
            return self._unavailable()
        timeout = self.config.timeout_seconds
        try:
            with anyio.fail_after(timeout):
                result = await client.call_tool(remote, call.args, meta=meta)  # type: ignore[arg-type]
        except TimeoutError:
            self._poke()  # a hung server is found out by the probe
            return ToolOutcome(
                ok=False,
                error_code=ErrorCode.UNAVAILABLE.value,
                error=f"MCP server {self.name} did not answer '{remote}' within {timeout:g}s",
            )
        except MCPError as exc:
            if exc.code == mt.CONNECTION_CLOSED:
                self._drop(f"connection closed: {exc.message}")
                return self._unavailable()
            code = ErrorCode.INVALID if exc.code == mt.INVALID_PARAMS else ErrorCode.FAILED
            return ToolOutcome(ok=False, error_code=code.value, error=bound_text(f"{self.name}: {exc.message}", 2_000))
        except Exception as exc:  # noqa: BLE001 - transport faults come in many types; none may reach the bot
            self._poke()
            log.warning("MCP %s: call %s failed: %r", self.name, remote, exc)
            return ToolOutcome(
                ok=False,
                error_code=ErrorCode.UNAVAILABLE.value,
                error=bound_text(f"MCP server {self.name} failed on '{remote}': {exc or type(exc).__name__}", 2_000),
            )
        return self._outcome(result)

    # ------------------------------------------------------------------ lifecycle and health
    async def start(self) -> None:
        if self._task is not None or self._state == "stopped":
            return
        coro = self._supervise()
        name = f"mcp-source:{self.name}"
        self._task = self._tasks.spawn(coro, name=name) if self._tasks else asyncio.create_task(coro, name=name)

    async def wait_up(self, within: float) -> bool:
        """Wait until the server is connected (tests, health checks); False if not within `within` seconds."""
        await self.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout=within)
        return self._state == "up"

    async def refresh(self) -> None:
        """Ask the supervisor to list the tools again now (as a list-changed notification does)."""
        self._refresh_wanted = True
        self._wake.set()

    def add_listener(self, callback: Callable[[McpSource], None]) -> None:
        """Called (synchronously) after the tool list changed."""
        self._listeners.append(callback)

    def status(self) -> SourceStatus:
        retry_in = None
        if self._retry_at is not None and self._state == "reconnecting":
            retry_in = max(0.0, self._retry_at - time.monotonic())
        return SourceStatus(
            name=self.name,
            transport=self._transport,
            state=self._state,
            tools=len(self._tools),
            error=self._error,
            failures=self._failures,
            since=self._since,
            retry_in=retry_in,
            server=self._server_info,
            warnings=self._warnings,
        )

    async def aclose(self) -> None:
        self._set_state("stopped")
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._client = None

    # ------------------------------------------------------------------ internals
    def _set_state(self, state: State) -> None:
        if state != self._state:
            self._state = state
            self._since = time.time()
        if state == "up":
            self._up.set()
        else:
            self._up.clear()

    def _stopped(self) -> bool:
        return self._state == "stopped"

    def _unavailable(self) -> ToolOutcome:
        why = f": {self._error or self._dropped}" if (self._error or self._dropped) else ""
        retry = self.status().retry_in
        when = f"; retrying in {retry:.0f}s" if retry is not None else ""
        return ToolOutcome(
            ok=False,
            error_code=ErrorCode.UNAVAILABLE.value,
            error=bound_text(f"MCP server {self.name} is not connected{why}{when}", 2_000),
        )

    def _poke(self) -> None:
        """Something looked wrong: let the supervisor probe the connection now."""
        self._refresh_wanted = True
        self._wake.set()

    def _drop(self, reason: str) -> None:
        """The connection is known to be gone: report it at once; the supervisor tears it down and reconnects."""
        if self._dropped is None:
            self._dropped = reason
        if not self._stopped():
            self._client = None
            self._set_state("reconnecting")
        self._wake.set()

    def _target(self) -> MCPServer | StdioServerParameters | str:
        if self._server is not None:
            return self._server
        cfg = self.config
        if cfg.command is not None:
            return StdioServerParameters(
                command=cfg.command, args=list(cfg.args), env=dict(cfg.env) or None, cwd=cfg.cwd
            )
        assert cfg.url is not None
        return cfg.url

    async def _client_for(self, stack: contextlib.AsyncExitStack) -> Client:
        target = self._target()
        if isinstance(target, str) and self.config.headers:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            # Same timeouts as the SDK's default client; ours only adds the configured headers.
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=dict(self.config.headers), timeout=httpx2.Timeout(30.0, read=300.0))
            )
            return Client(
                streamable_http_client(target, http_client=http), message_handler=self._on_message, cache=None
            )
        return Client(target, message_handler=self._on_message, cache=None)

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, mt.ToolListChangedNotification):
            log.info("MCP %s: tool list changed", self.name)
            await self.refresh()
        elif isinstance(message, Exception):
            log.info("MCP %s: transport reported %r", self.name, message)
            self._poke()

    async def _fetch_tools(self, client: Client) -> None:
        tools: list[mt.Tool] = []
        cursor: str | None = None
        for _ in range(100):  # a paginator that never ends must not hang the source
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        self._install(tools)

    def _install(self, tools: list[mt.Tool]) -> None:
        infos: list[ToolInfo] = []
        remote: dict[str, str] = {}
        warnings: list[str] = []
        exclude = set(self.config.exclude_tools)
        for tool in tools:
            if tool.name in exclude:
                continue
            info, warn = tool_info(
                tool, source=self.name, prefix=self.prefix, config=self.config, trusted=self._trusted
            )
            warnings.extend(warn)
            if info.name in remote:
                warnings.append(f"{self.name}: two tools map to the name '{info.name}'; kept the first")
                continue
            infos.append(info)
            remote[info.name] = tool.name
        for w in warnings:
            if w not in self._warnings:
                log.warning("MCP %s", w)
        changed = [(i.name, i.input_schema, i.mutates, i.description) for i in infos] != [
            (i.name, i.input_schema, i.mutates, i.description) for i in self._tools
        ]
        self._tools, self._remote, self._warnings = infos, remote, tuple(warnings)
        if changed:
            self.tools_version += 1
            for listener in list(self._listeners):
                try:
                    listener(self)
                except Exception:
                    log.exception("MCP %s: tools-changed listener failed", self.name)

    def _outcome(self, result: mt.CallToolResult) -> ToolOutcome:
        return tool_outcome(result, source=self.name, limit=self.config.max_output_chars, trusted=self._trusted)

    async def _supervise(self) -> None:
        cfg = self.config
        while not self._stopped():
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(_ConnectFailed),
                wait=wait_exponential_jitter(multiplier=cfg.backoff_initial_seconds, max=cfg.backoff_max_seconds),
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        await self._session()
            except _Dropped:
                pass
            if self._stopped():
                return
            # It was up and went away: start over with a fresh backoff, after a short pause.
            self._set_state("reconnecting")
            self._retry_at = time.monotonic() + cfg.backoff_initial_seconds
            await asyncio.sleep(cfg.backoff_initial_seconds)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        self._failures += 1
        self._error = _describe(exc)
        sleep = state.next_action.sleep if state.next_action is not None else 0.0
        self._retry_at = time.monotonic() + sleep
        self._set_state("reconnecting")
        self._first_attempt.set()
        log.warning("MCP %s: cannot connect (%s); retry #%d in %.1fs", self.name, self._error, self._failures, sleep)

    async def _session(self) -> None:
        """One connection: raises if it cannot be set up (retried with backoff), `_Dropped` if it was up."""
        cfg = self.config
        if self._state != "reconnecting":
            self._set_state("connecting")
        self._dropped = None
        was_up = False
        try:
            # One scope around the whole connection: its deadline bounds start + handshake + first listing and is
            # lifted once up (a `fail_after` around entering the client alone would break anyio's scope nesting).
            with anyio.CancelScope(deadline=anyio.current_time() + cfg.connect_timeout_seconds) as scope:
                async with contextlib.AsyncExitStack() as stack:
                    client = await self._client_for(stack)
                    await stack.enter_async_context(client)
                    await self._fetch_tools(client)
                    scope.deadline = math.inf
                    info = client.server_info
                    self._server_info = f"{info.name} {info.version}".strip() if info is not None else ""
                    self._client = client
                    was_up = True
                    self._failures, self._error, self._retry_at = 0, None, None
                    self._set_state("up")
                    self._first_attempt.set()
                    log.info("MCP %s: up, %d tools", self.name, len(self._tools))
                    listener = asyncio.create_task(self._listen(client), name=f"mcp-listen:{self.name}")
                    stack.callback(listener.cancel)
                    await self._watch(client)
            if scope.cancelled_caught and not was_up:
                raise _ConnectFailed(f"no answer within {cfg.connect_timeout_seconds:g}s")
        except BaseException as exc:
            # A transport fault surfaces as an exception group out of the SDK's task groups, sometimes with a
            # CancelledError inside; only a cancellation of this task itself (aclose) may end the supervisor.
            if _cancelling() or isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            if isinstance(exc, _Dropped | _ConnectFailed):
                raise
            if not was_up:
                raise _ConnectFailed(_describe(exc)) from exc
            self._error = _describe(exc)
            log.warning("MCP %s: connection lost (%s)", self.name, self._error)
            raise _Dropped(self._error) from exc
        finally:
            self._client = None
            if was_up and not self._stopped():
                self._set_state("reconnecting")
        if not self._stopped():
            self._error = self._dropped or "disconnected"
            log.warning("MCP %s: connection lost (%s)", self.name, self._error)
            raise _Dropped(self._error)

    async def _watch(self, client: Client) -> None:
        """Returns when the connection is gone or the source stops; re-lists tools when asked or on the probe."""
        cfg = self.config
        while not self._stopped():
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=cfg.health_interval_seconds)
            if self._stopped() or self._dropped is not None:
                return
            self._refresh_wanted = False
            try:
                with anyio.fail_after(cfg.connect_timeout_seconds):
                    await self._fetch_tools(client)
            except Exception as exc:  # noqa: BLE001 - the probe failing means the connection is unusable
                self._dropped = _describe(exc)
                return

    async def _listen(self, client: Client) -> None:
        """2026-07-28 servers announce list changes on a `subscriptions/listen` stream, older ones by a plain
        notification (handled in `_on_message`)."""
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return
        caps = client.server_capabilities.tools
        if caps is None or not caps.list_changed:
            return
        try:
            async with client.listen(tools_list_changed=True) as sub:
                async for _event in sub:
                    await self.refresh()
        except (ListenNotSupportedError, MCPError) as exc:
            log.debug("MCP %s: no change stream: %r", self.name, exc)
        except Exception as exc:  # noqa: BLE001 - losing the stream only costs change notifications
            log.info("MCP %s: change stream ended: %r", self.name, exc)
            self._poke()  # usually the connection itself went away: let the probe find out now


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, MCPError):
        return exc.message
    text = str(exc) or type(exc).__name__
    return bound_text(text, 300)
