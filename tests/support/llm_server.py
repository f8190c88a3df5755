"""A scripted OpenAI-compatible chat-completions server for tests, over real HTTP on 127.0.0.1.

It runs an aiohttp app on its own event loop in a background thread, so it serves any test's loop (and keeps
answering while the test awaits the client). Each request pops the next reply from the script:

    llm.script(tool_call("list_pods", {"namespace": "shop"}), text("All good."))

A reply is a tool call (one or several), a text answer, an HTTP error (429/500...), a delay before a reply (to
trip the client's timeout), or a malformed body. `stream: true` requests get `text/event-stream` chunks: content
deltas in pieces (paced over time with `slow_text`, cut off mid-answer with `broken_stream`), tool-call deltas
keyed by `index` with the arguments split across chunks. Every request is
recorded (`.requests`) so tests can assert which tools were offered and what came back to the model.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class ToolCallSpec:
    name: str
    arguments: dict[str, Any] | str  # a str is sent verbatim (e.g. invalid JSON)
    id: str = ""


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with the helpers below."""

    kind: str  # "text" | "tools" | "error" | "malformed"
    text: str = ""
    tool_calls: tuple[ToolCallSpec, ...] = ()
    status: int = 200
    body: str = ""
    delay: float = 0.0  # seconds to wait before answering
    pieces: int = 4  # streamed: how many content chunks the text is split into
    pace: float = 0.0  # streamed: seconds between two content chunks (a slow model)
    cut_after: int | None = None  # streamed: drop the connection after this many content chunks


def text(content: str, *, delay: float = 0.0) -> Reply:
    return Reply(kind="text", text=content, delay=delay)


def tool_call(name: str, arguments: dict[str, Any] | str | None = None, *, content: str = "") -> Reply:
    return Reply(
        kind="tools", text=content, tool_calls=(ToolCallSpec(name, arguments if arguments is not None else {}),)
    )


def tool_calls(*calls: tuple[str, dict[str, Any] | str], content: str = "") -> Reply:
    return Reply(kind="tools", text=content, tool_calls=tuple(ToolCallSpec(n, a) for n, a in calls))


def http_error(status: int, message: str = "scripted error") -> Reply:
    body = json.dumps({"error": {"message": message, "type": "scripted", "code": status}})
    return Reply(kind="error", status=status, body=body)


def delay(seconds: float, then: Reply | None = None) -> Reply:
    """Wait `seconds` before answering (`then`, or a short text): longer than the client's timeout = a timeout."""
    base = then or text("late answer")
    return Reply(
        kind=base.kind,
        text=base.text,
        tool_calls=base.tool_calls,
        status=base.status,
        body=base.body,
        delay=seconds,
    )


def slow_text(content: str, *, seconds: float, pieces: int = 120) -> Reply:
    """A streamed answer whose `pieces` chunks arrive evenly over `seconds` (streamed requests)."""
    return Reply(kind="text", text=content, pieces=pieces, pace=seconds / max(1, pieces - 1))


def broken_stream(content: str, *, after: int, pieces: int = 20, pace: float = 0.05) -> Reply:
    """A streamed answer whose connection drops after `after` of its `pieces` chunks."""
    return Reply(kind="text", text=content, pieces=pieces, pace=pace, cut_after=after)


def malformed(body: str = '{"id": "x", "choices": [ {"message": ') -> Reply:
    return Reply(kind="malformed", status=200, body=body)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        msgs = self.body.get("messages", [])
        return msgs if isinstance(msgs, list) else []

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.body.get("tools", []) or []]

    @property
    def tool_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("role") == "tool"]

    @property
    def system(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == "system")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass
class ScriptedLLM:
    host: str = "127.0.0.1"
    port: int = 0
    model: str = "scripted-model"
    requests: list[RecordedRequest] = field(default_factory=list)
    unscripted: int = 0  # requests that found the script empty (answered 500)
    _queue: list[Reply] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # ------------------------------------------------------------------ script
    def script(self, *replies: Reply) -> None:
        """Append replies to the queue (served in order, one per request)."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.unscripted = 0

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next(self) -> Reply | None:
        with self._lock:
            return self._queue.pop(0) if self._queue else None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ScriptedLLM:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except Exception as exc:  # noqa: BLE001 - surfaced to start() below
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._cleanup())
            # Handlers still sleeping in a scripted delay: cancel them rather than leave them dangling.
            rest = asyncio.all_tasks(loop)
            for task in rest:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="scripted-llm", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("scripted LLM server did not start")
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/chat/completions", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        # Bind the socket ourselves so the free port is known without poking at aiohttp internals.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ serving
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {"_unparsed": await request.text()}
        self.requests.append(RecordedRequest(request.path, dict(request.headers), body))
        reply = self._next()
        if reply is None:
            self.unscripted += 1
            return web.json_response({"error": {"message": "script exhausted"}}, status=500)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.kind == "error":
            return web.Response(status=reply.status, text=reply.body, content_type="application/json")
        if reply.kind == "malformed":
            return web.Response(status=reply.status, text=reply.body, content_type="application/json")
        if body.get("stream"):
            return await self._stream(request, reply)
        return web.json_response(self._completion(reply))

    def _completion(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        finish = "stop"
        if reply.kind == "tools":
            message["tool_calls"] = [
                {
                    "id": tc.id or f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": tc.name, "arguments": _args(tc)},
                }
                for tc in reply.tool_calls
            ]
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    async def _stream(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        for i, piece in enumerate(_pieces(reply.text, reply.pieces)):
            if reply.cut_after is not None and i >= reply.cut_after:
                if request.transport is not None:  # mid-answer, like a provider's connection reset
                    request.transport.close()
                return resp
            if i and reply.pace:
                await asyncio.sleep(reply.pace)
            await send({"content": piece})
        if reply.kind == "tools":
            for index, tc in enumerate(reply.tool_calls):
                call_id = tc.id or f"call_{uuid.uuid4().hex[:12]}"
                # The first fragment names the call; the arguments follow in pieces, as real providers do.
                await send(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": tc.name, "arguments": ""},
                            }
                        ]
                    }
                )
                for piece in _pieces(_args(tc), 3):
                    await send({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            await send({}, "tool_calls")
        else:
            await send({}, "stop")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _args(tc: ToolCallSpec) -> str:
    return tc.arguments if isinstance(tc.arguments, str) else json.dumps(tc.arguments, ensure_ascii=False)


def _pieces(s: str, n: int) -> list[str]:
    """Split `s` into about `n` pieces (at least one char each), so streams really arrive in fragments."""
    if not s:
        return []
    size = max(1, -(-len(s) // n))
    return [s[i : i + size] for i in range(0, len(s), size)]
