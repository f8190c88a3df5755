"""Where audit entries go besides Redis: stdout (JSON lines for the cluster's log pipeline) and a rotating file.

Each sink writes one already-serialised line from a worker thread (file and pipe writes can block; the event
loop must not). A sink that fails says so once per failure streak, not with a traceback per message.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Protocol, TextIO

log = logging.getLogger(__name__)


class AuditConfigError(ValueError):
    """The audit settings cannot work (e.g. AUDIT_LOG_PATH on a read-only filesystem): start-up stops."""


class Sink(Protocol):
    name: str

    async def write(self, line: str) -> None: ...

    def close(self) -> None: ...


async def write_lines(sink: Sink, lines: list[str]) -> None:
    """Many lines in one thread hop when the sink can (`write_many`), else one by one."""
    many = getattr(sink, "write_many", None)
    if many is not None:
        await many(lines)
        return
    for line in lines:
        await sink.write(line)


class _Once:
    """Logs the first failure of a streak, then stays quiet until a write succeeds again."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._failing = False

    def failed(self, exc: BaseException) -> None:
        if not self._failing:
            log.error("audit sink %s cannot write (%s); entries still go to Redis and other sinks", self._name, exc)
        self._failing = True

    def ok(self) -> None:
        if self._failing:
            log.warning("audit sink %s writes again", self._name)
        self._failing = False


class StdoutSink:
    name = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = asyncio.Lock()
        self._once = _Once(self.name)

    def _write(self, line: str) -> None:
        stream = self._stream or sys.stdout  # looked up late: tests and the console may swap sys.stdout
        stream.write(line + "\n")
        stream.flush()

    async def write(self, line: str) -> None:
        async with self._lock:  # whole lines, never interleaved
            await asyncio.to_thread(self._write, line)
        self._once.ok()

    async def write_many(self, lines: list[str]) -> None:
        if lines:
            await self.write("\n".join(lines))

    def close(self) -> None:
        pass


class _Handler(logging.handlers.RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        raise  # back to the sink, which reports once instead of a traceback per line


class RotatingFileSink:
    """`path`, rotated at `max_bytes` into path.1 … path.N (logging.handlers does the renaming)."""

    name = "file"

    def __init__(self, path: str, *, max_bytes: int, backups: int) -> None:
        self.path = Path(path)
        self._handler = _Handler(
            path, maxBytes=max(0, max_bytes), backupCount=max(0, backups), encoding="utf-8", delay=True
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._lock = asyncio.Lock()
        self._once = _Once(self.name)

    def _write(self, line: str) -> None:
        record = logging.LogRecord("kubeduty.audit", logging.INFO, __file__, 0, line, None, None)
        self._handler.emit(record)

    async def write(self, line: str) -> None:
        await self.write_many([line])

    async def write_many(self, lines: list[str]) -> None:
        """Each line is one record (rotation may fall between two); all in one thread hop."""

        def emit() -> None:
            for line in lines:
                self._write(line)

        async with self._lock:
            try:
                await asyncio.to_thread(emit)
            except OSError as exc:
                self._once.failed(exc)
                raise
        self._once.ok()

    def close(self) -> None:
        self._handler.close()


def check_writable(path: str) -> Path:
    """Raise `AuditConfigError` naming AUDIT_LOG_PATH unless the file can be appended to (called at start-up:
    a read-only root filesystem must stop the process with one clear line, not fail on every message)."""
    target = Path(path)
    try:
        with target.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        where = target if target.is_absolute() else f"{target} (relative to {Path.cwd()})"
        raise AuditConfigError(
            f"AUDIT_LOG_PATH={path}: cannot write the audit file {where}: {exc.strerror or exc}. "
            "Point it at a writable mounted volume (an absolute path), or set AUDIT_LOG_PATH= (empty) and "
            "AUDIT_STDOUT=true to keep the audit in Redis and the container log only."
        ) from None
    return target.resolve()
