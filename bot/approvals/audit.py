"""The audit trail: every decision and execution, to a Redis stream (for `/audit`) and a JSON-lines file
(for people and log shippers). Both are append-only; the stream is capped, the file is rotated by ops."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.approvals.storage import RecordStore
from tools.redact import mask_text

log = logging.getLogger(__name__)

STREAM_MAXLEN = 10_000  # `/audit` shows the newest few; the file keeps everything
STREAM_TTL_SECONDS = 90 * 24 * 3600
FIELD_LIMIT = 500  # one audit field never grows without bound (requests are user text)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    event: str  # read | propose | refuse | confirm | approve | cancel | execute | expire | tamper | audit
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


def _cut(text: str) -> str:
    return text if len(text) <= FIELD_LIMIT else text[: FIELD_LIMIT - 14] + "… (truncated)"


class AuditLog:
    def __init__(self, *, store: RecordStore, path: str | None, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._path = Path(path) if path else None
        self._clock = clock
        self._file_lock = asyncio.Lock()

    async def record(self, entry: AuditEntry) -> None:
        stamp = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds")
        # Requests and results can carry credentials (a pasted manifest, an upstream error echoing a value):
        # the audit trail is read by more people than the chat, so it is masked like every card.
        row = {k: _cut(mask_text(str(v))) for k, v in asdict(entry).items()}
        row["time"] = stamp
        try:
            await self._store.append_stream(
                self._store.keys.audit_stream(), row, maxlen=STREAM_MAXLEN, ttl=STREAM_TTL_SECONDS
            )
        except Exception:  # the file below still gets the entry; Redis trouble must not lose it twice
            log.exception("cannot append to the audit stream")
        if self._path is not None:
            line = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
            async with self._file_lock:
                try:
                    await asyncio.to_thread(self._append, line)
                except OSError:
                    # The Redis stream still has the entry; a full disk must not stop the on-duty bot.
                    log.exception("cannot write the audit file %s", self._path)

    def _append(self, line: str) -> None:
        assert self._path is not None
        with self._path.open("a", encoding="utf-8") as fh:
            fh.write(line)

    async def tail(self, n: int, *, chat: str | None = None) -> list[dict[str, str]]:
        """Newest first; only entries of `chat` when given."""
        rows = await self._store.read_stream_tail(self._store.keys.audit_stream(), max(n * 5, 200) if chat else n)
        if chat is not None:
            rows = [r for r in rows if r.get("chat") == chat]
        return rows[:n]
