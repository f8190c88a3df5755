"""The stdio transport of `kubeduty mcp serve`, answering malformed lines as JSON-RPC 2.0 requires.

The SDK's `stdio_server()` turns a line it cannot parse into an exception on the read stream, and the server's
dispatcher only logs it: the client gets no answer at all. JSON-RPC 2.0 (section 5.1) wants `-32700 Parse error`
for invalid JSON and `-32600 Invalid Request` for JSON that is not a request, with `"id": null` when the id
cannot be read. The SDK lets us do that without patching it: `stdio_server()` hands us both streams, so a small
pump answers exceptions on the write stream and passes every real message on to the server unchanged
(`MCPServer.run_stdio_async` does the same wiring without the pump).
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, cast

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import ErrorData, JSONRPCError, JSONRPCResponse
from pydantic import ValidationError

from tools.mcp_front import INVALID_REQUEST, PARSE_ERROR, Handover

__all__ = ["INVALID_REQUEST", "PARSE_ERROR", "error_for", "serve_stdio"]


def error_for(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error answering a line the transport could not read (`exc` from `stdio_server`). The SDK
    keeps only the validation error, not the line, so the request's id is not known: `"id": null`."""
    if isinstance(exc, ValidationError) and any(e.get("type") == "json_invalid" for e in exc.errors()):
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error"))
    return JSONRPCError(
        jsonrpc="2.0",
        id=None,
        error=ErrorData(code=INVALID_REQUEST, message="Invalid Request: not a JSON-RPC 2.0 message"),
    )


class _Rest(io.RawIOBase):
    """stdin as the front left it: the bytes it read but did not handle, then the descriptor itself."""

    def __init__(self, rest: bytes, fd: int) -> None:
        self._rest = rest
        self._fd = fd

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._rest:
            n = min(len(view), len(self._rest))
            view[:n] = self._rest[:n]
            self._rest = self._rest[n:]
            return n
        data = os.read(self._fd, len(view))
        view[: len(data)] = data
        return len(data)


class _HandedOver:
    """The SDK's stdin after a front: the lines the front answered, then the rest, read as `stdio_server` reads
    stdin (UTF-8 with replacement, universal newlines)."""

    def __init__(self, handover: Handover, fd: int = 0) -> None:
        self._replay = list(handover.replay)
        text = io.TextIOWrapper(io.BufferedReader(_Rest(handover.rest, fd)), encoding="utf-8", errors="replace")
        self._file = anyio.wrap_file(text)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        for line in self._replay:
            yield line + "\n"
        async for line in self._file:
            yield line


def _answers_to_drop(handover: Handover | None) -> Counter[int | str]:
    return Counter(handover.answered) if handover is not None else Counter()


async def serve_stdio(server: MCPServer, *, handover: Handover | None = None) -> None:
    """Serve `server` on stdin/stdout. With a `handover` from `tools/mcp_front.py`, the SDK first reads the
    lines the front already answered and its own answers to them are dropped (the client has them)."""
    lowlevel = server._lowlevel_server  # what run_stdio_async uses; the SDK has no public accessor
    stdin = cast("anyio.AsyncFile[str]", _HandedOver(handover)) if handover is not None else None
    drop = _answers_to_drop(handover)
    async with stdio_server(stdin=stdin) as (read_stream, write_stream):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        out_send, out_receive = anyio.create_memory_object_stream[SessionMessage](0)

        async def pump() -> None:
            async with send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(error_for(item)))
                    else:
                        await send.send(item)

        answered = anyio.Event()

        async def answers() -> None:
            try:
                async with write_stream:
                    async for item in out_receive:
                        message = item.message
                        key = message.id if isinstance(message, JSONRPCResponse | JSONRPCError) else None
                        if key is not None and drop[key] > 0:
                            drop[key] -= 1
                            continue
                        await write_stream.send(item)
            finally:
                answered.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            tg.start_soon(answers)
            await lowlevel.run(receive, out_send, lowlevel.create_initialization_options())
            await answered.wait()  # the last answer is written before the pump is stopped
            tg.cancel_scope.cancel()
