"""A loopback TCP proxy (asyncio) that injects network faults between the bot and Redis (or the API server).

Modes, switchable while connections are open:
- `pass`: bytes flow both ways;
- `stall`: bytes are held (nothing forwarded, nothing closed), like a partition without resets;
- `drop_responses`: requests reach the server, its answers are thrown away (a write applied, its reply lost);
- `drop_write_responses`: like `drop_responses`, but only on connections that carried an HTTP write (PATCH, POST,
  PUT, DELETE), so reads still work: the write is applied, its answer never arrives;
- `reset()`: every open connection is closed now (connection lost).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

PASS, STALL, DROP_RESPONSES, DROP_WRITE_RESPONSES = "pass", "stall", "drop_responses", "drop_write_responses"
_WRITES = (b"PATCH ", b"POST ", b"PUT ", b"DELETE ")
_METHODS = (b"GET ", b"HEAD ", b"OPTIONS ", *_WRITES)


@dataclass
class TcpProxy:
    target_host: str
    target_port: int
    mode: str = PASS
    port: int = 0
    _server: asyncio.Server | None = None
    _conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=set)
    _flowing: asyncio.Event = field(default_factory=asyncio.Event)
    dropped_bytes: int = 0
    then: str | None = None  # mode to switch to once the first answer was dropped (e.g. a partition after it)

    async def start(self) -> TcpProxy:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == STALL:
            self._flowing.clear()
        else:
            self._flowing.set()

    def reset(self) -> None:
        for a, b in list(self._conns):
            a.close()
            b.close()
        self._conns.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.close()
            return
        pair = (writer, up_writer)
        self._conns.add(pair)
        seen_write = [False]
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, upstream=True, seen_write=seen_write),
                self._pipe(up_reader, writer, upstream=False, seen_write=seen_write),
            )
        finally:
            self._conns.discard(pair)
            for w in pair:
                w.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool, seen_write: list[bool]
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await self._flowing.wait()
                if upstream and data.startswith(_METHODS):  # a new request on this connection: is it a write?
                    seen_write[0] = data.startswith(_WRITES)
                drop_this = self.mode == DROP_RESPONSES or (self.mode == DROP_WRITE_RESPONSES and seen_write[0])
                if not upstream and drop_this:
                    self.dropped_bytes += len(data)
                    if self.then is not None:
                        self.set_mode(self.then)
                        self.then = None
                    continue
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()

    async def close(self) -> None:
        self.reset()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
