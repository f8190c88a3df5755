"""The stdio transport of `kubeduty mcp serve`, answering malformed lines as JSON-RPC 2.0 requires.

The SDK's `stdio_server()` turns a line it cannot parse into an exception on the read stream, and the server's
dispatcher only logs it: the client gets no answer at all. JSON-RPC 2.0 (section 5.1) wants `-32700 Parse error`
for invalid JSON and `-32600 Invalid Request` for JSON that is not a request, with `"id": null` when the id
cannot be read. The SDK lets us do that without patching it: `stdio_server()` hands us both streams, so a small
pump answers exceptions on the write stream and passes every real message on to the server unchanged
(`MCPServer.run_stdio_async` does the same wiring without the pump).
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import ErrorData, JSONRPCError
from pydantic import ValidationError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


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


async def serve_stdio(server: MCPServer) -> None:
    lowlevel = server._lowlevel_server  # what run_stdio_async uses; the SDK has no public accessor
    async with stdio_server() as (read_stream, write_stream):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            async with send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(error_for(item)))
                    else:
                        await send.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            await lowlevel.run(receive, write_stream, lowlevel.create_initialization_options())
            tg.cancel_scope.cancel()
