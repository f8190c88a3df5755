"""The audit trail: every decision and execution, in a Redis stream of its own (for `/audit`, kept for the
retention setting) and in the sinks (stdout JSON lines, a rotating file).

Reads are not decisions: an allowed read goes to a separate, short-lived stream, sampled by
`AUDIT_READ_SAMPLE_RATE`, so a busy day of `/pods` never evicts who changed what. Every read is still counted
(`kubeduty_audit_entries{kind="read"}`); a denied read is a decision and always kept. The entry's shape is
`ENTRY_SCHEMA` (documented in deploy/README.md).

Decisions and executions are written before `record` returns. Allowed reads (with `batch_reads`, as the bot
runs) are stamped and queued instead, and a background task writes them in batches (`bot.store.batch`):
one pipelined round trip and one file append for many messages, off the message's path. The queue is bounded;
an entry that does not fit is counted (`kubeduty_audit_entries{kind="read",outcome="dropped"}`), never silently
lost; `aclose` (shutdown) and `tail` (`/audit`) flush what is queued first.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from bot.approvals.audit_sinks import RotatingFileSink, Sink, StdoutSink, check_writable, write_lines
from bot.approvals.storage import RecordStore
from bot.ops import metrics
from bot.settings import Settings
from bot.store.batch import Batcher
from tools.redact import mask_text

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
STREAM_MAXLEN = 100_000  # decisions only: `/audit` shows the newest few, retention is by TTL
STREAM_TTL_SECONDS = 90 * 24 * 3600
READ_STREAM_MAXLEN = 10_000
READ_STREAM_TTL_SECONDS = 7 * 24 * 3600
FILE_MAX_BYTES = 50 * 1024 * 1024
FILE_BACKUPS = 5
READ_QUEUE_MAX = 10_000  # reads waiting for their batch; more are dropped and counted, never silently
FIELD_LIMIT = 500  # one audit field never grows without bound (requests are user text)

# "settle": a change whose outcome was unknown (no answer from the API server) has been read back and decided.
EVENTS = ("read", "propose", "refuse", "confirm", "approve", "cancel", "execute", "settle", "expire", "tamper", "audit")

_TEXT = {"type": "string", "maxLength": FIELD_LIMIT}
ENTRY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "KubeDuty audit entry",
    "type": "object",
    "additionalProperties": False,
    "required": ["v", "time", "kind", "event", "platform", "chat", "user", "request", "decision", "replica"],
    "properties": {
        "v": {"const": SCHEMA_VERSION},
        "time": {"type": "string", "format": "date-time", "description": "UTC, milliseconds"},
        "kind": {"enum": ["decision", "read"], "description": "read = an allowed read (sampled)"},
        "event": {"enum": list(EVENTS)},
        "platform": {"type": "string", "description": "dingtalk | feishu | console"},
        "chat": {**_TEXT, "description": "platform chat id"},
        "user": {**_TEXT, "description": "platform user id of who acted"},
        "request": {**_TEXT, "description": "tool and arguments, masked"},
        "decision": {**_TEXT, "description": "allow | deny | approval | ok | failed | unknown | ..."},
        "rule": {**_TEXT, "description": "the policy rule that decided"},
        "approvers": {**_TEXT, "description": "comma-separated subjects who approved"},
        "call_hash": {"type": "string", "description": "sha256 of the exact tool call an approval is bound to"},
        "approval_id": {"type": "string"},
        "result": {**_TEXT, "description": "outcome text, masked, cut with a (truncated) marker"},
        "replica": {"type": "string", "description": "host name (pod) that wrote the entry"},
    },
}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    event: str  # one of EVENTS
    platform: str
    chat: str
    user: str
    request: str  # tool and arguments, short
    decision: str = ""  # allow | deny | approval | ok | failed ...
    rule: str = ""
    approvers: str = ""  # comma-separated subjects who approved
    call_hash: str = ""
    approval_id: str = ""
    result: str = ""
    time: str = ""

    @property
    def is_read(self) -> bool:
        return self.event == "read" and self.decision == "allow"


_ROW_FIELDS = tuple(f.name for f in fields(AuditEntry) if f.name != "time")  # asdict() deep-copies: slow


def _cut(text: str) -> str:
    return text if len(text) <= FIELD_LIMIT else text[: FIELD_LIMIT - 14] + "… (truncated)"


class AuditLog:
    def __init__(
        self,
        *,
        store: RecordStore,
        path: str | None = None,
        clock: Callable[[], float] = time.time,
        sinks: Sequence[Sink] | None = None,
        retention_seconds: int = STREAM_TTL_SECONDS,
        maxlen: int = STREAM_MAXLEN,
        read_sample_rate: float = 1.0,
        read_retention_seconds: int = READ_STREAM_TTL_SECONDS,
        read_maxlen: int = READ_STREAM_MAXLEN,
        sample: Callable[[], float] = random.random,
        batch_reads: bool = False,
        read_queue: int = READ_QUEUE_MAX,
    ) -> None:
        """`path` alone = one rotating file sink with the default limits (`sinks` replaces it). `batch_reads`:
        allowed reads are written in the background, in batches (decisions are always written at once)."""
        self._store = store
        self._clock = clock
        if sinks is None:
            sinks = [RotatingFileSink(path, max_bytes=FILE_MAX_BYTES, backups=FILE_BACKUPS)] if path else []
        self.sinks = list(sinks)
        self._retention = retention_seconds
        self._maxlen = maxlen
        self._read_rate = min(1.0, max(0.0, read_sample_rate))
        self._read_retention = read_retention_seconds
        self._read_maxlen = read_maxlen
        self._sample = sample
        self._replica = socket.gethostname()
        self._batcher: Batcher[tuple[AuditEntry, float]] | None = (
            Batcher(self._write_reads, max_pending=read_queue, name="audit-reads") if batch_reads else None
        )

    def _reads_stream(self) -> str:
        return self._store.keys.custom("audit", "reads")

    def row(self, entry: AuditEntry, at: float | None = None) -> dict[str, str]:
        """The entry as stored and written (masked, bounded, stamped): what `ENTRY_SCHEMA` describes."""
        stamp = datetime.fromtimestamp(self._clock() if at is None else at, UTC).isoformat(timespec="milliseconds")
        # Requests and results can carry credentials (a pasted manifest, an upstream error echoing a value):
        # the audit trail is read by more people than the chat, so it is masked like every card.
        masked = {k: _cut(mask_text(str(getattr(entry, k)))) for k in _ROW_FIELDS}
        return {
            "v": SCHEMA_VERSION,
            "time": stamp,
            "kind": "read" if entry.is_read else "decision",
            **masked,
            "replica": self._replica,
        }

    async def record(self, entry: AuditEntry) -> None:
        kind = "read" if entry.is_read else "decision"
        if entry.is_read and (self._read_rate <= 0 or self._sample() >= self._read_rate):
            metrics.audit_entries.labels(kind=kind, outcome="sampled_out").inc()
            return
        metrics.audit_entries.labels(kind=kind, outcome="kept").inc()
        if not entry.is_read and entry.event not in ("read", "audit"):
            metrics.approvals.labels(state=entry.event).inc()
        if entry.is_read and self._batcher is not None:
            if not self._batcher.put((entry, self._clock())):
                metrics.audit_entries.labels(kind=kind, outcome="dropped").inc()
            return
        row = self.row(entry)
        if entry.is_read:
            key, maxlen, ttl = self._reads_stream(), self._read_maxlen, self._read_retention
        else:
            key, maxlen, ttl = self._store.keys.audit_stream(), self._maxlen, self._retention
        try:
            await self._store.append_stream(key, row, maxlen=maxlen, ttl=ttl)
        except Exception as exc:  # noqa: BLE001 - the sinks below still get the entry; Redis trouble must not lose it twice
            metrics.redis_errors.labels(operation="audit_append").inc()
            log.error("cannot append to the audit stream (%s: %s); the sinks still have it", type(exc).__name__, exc)
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        for sink in self.sinks:
            try:
                await sink.write(line)
            except Exception:  # noqa: BLE001 - the sink logged it once; the on-duty bot keeps serving
                metrics.audit_sink_errors.labels(sink=sink.name).inc()

    async def _write_reads(self, batch: list[tuple[AuditEntry, float]]) -> None:
        """One batch of queued reads: one pipelined round trip to the reads stream, one append per sink."""
        rows = [self.row(entry, at) for entry, at in batch]
        try:
            await self._store.append_stream_batch(
                self._reads_stream(), rows, maxlen=self._read_maxlen, ttl=self._read_retention
            )
        except Exception as exc:  # noqa: BLE001 - the sinks below still get the entries
            metrics.redis_errors.labels(operation="audit_append").inc()
            log.error(
                "cannot append %d reads to the audit stream (%s: %s); the sinks still have them",
                len(rows),
                type(exc).__name__,
                exc,
            )
        lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in rows]
        for sink in self.sinks:
            try:
                await write_lines(sink, lines)
            except Exception:  # noqa: BLE001 - the sink logged it once; the on-duty bot keeps serving
                metrics.audit_sink_errors.labels(sink=sink.name).inc(len(lines))

    async def flush(self) -> None:
        """Write every queued read now (before `/audit` reads the streams, and at shutdown)."""
        if self._batcher is not None:
            await self._batcher.flush()

    async def aclose(self) -> None:
        """Flush the queued reads, then close the sinks (the bot's shutdown)."""
        await self.flush()
        self.close()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    async def tail(self, n: int, *, chat: str | None = None) -> list[dict[str, str]]:
        """Newest first (decisions and kept reads merged by time); only entries of `chat` when given."""
        await self.flush()
        want = max(n * 5, 200) if chat else n
        rows = await self._store.read_stream_tail(self._store.keys.audit_stream(), want)
        try:
            rows += await self._store.read_stream_tail(self._reads_stream(), want)
        except Exception:  # the decisions alone still answer `/audit`
            log.warning("cannot read the audit stream of reads", exc_info=True)
        rows.sort(key=lambda r: r.get("time", ""), reverse=True)
        if chat is not None:
            rows = [r for r in rows if r.get("chat") == chat]
        return rows[:n]


def build_audit(settings: Settings, store: RecordStore, clock: Callable[[], float] = time.time) -> AuditLog:
    """The audit log the settings describe. Raises `AuditConfigError` (naming AUDIT_LOG_PATH) when the file
    cannot be written, so a read-only root filesystem stops start-up instead of failing every message."""
    sinks: list[Sink] = []
    if settings.audit_stdout:
        sinks.append(StdoutSink())
    if settings.audit_log_path:
        check_writable(settings.audit_log_path)
        sinks.append(
            RotatingFileSink(
                settings.audit_log_path, max_bytes=settings.audit_log_max_bytes, backups=settings.audit_log_backups
            )
        )
    return AuditLog(
        store=store,
        clock=clock,
        sinks=sinks,
        retention_seconds=settings.audit_retention_seconds,
        maxlen=settings.audit_stream_maxlen,
        read_sample_rate=settings.audit_read_sample_rate,
        read_retention_seconds=settings.audit_read_retention_seconds,
        batch_reads=True,
    )
