"""Allowed reads reach the audit trail in background batches (one round trip, one file append for many), while
decisions are still written before `record` returns; a full queue drops reads visibly, and shutdown flushes."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from bot.approvals.audit import AuditEntry, AuditLog
from bot.approvals.audit_sinks import RotatingFileSink, StdoutSink
from bot.ops import metrics
from bot.store import Store


def entry(event: str, decision: str, n: int = 0) -> AuditEntry:
    return AuditEntry(
        event=event, decision=decision, platform="feishu", chat="oc_1", user="ou_1", request=f"list_pods(dev) #{n}"
    )


async def reads_in(store: Store) -> list[dict[str, str]]:
    return await store.read_stream_tail(store.keys.custom("audit", "reads"), 1000)


async def test_reads_land_in_the_stream_and_the_file_in_batches_without_being_awaited(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(store=store, sinks=[RotatingFileSink(str(path), max_bytes=1 << 20, backups=1)], batch_reads=True)
    for i in range(30):
        await audit.record(entry("read", "allow", i))
    deadline = asyncio.get_running_loop().time() + 30
    while len(await reads_in(store)) < 30:  # written by the background task, a moment later
        assert asyncio.get_running_loop().time() < deadline, "the queued reads were never written"
        await asyncio.sleep(0.02)
    rows = await reads_in(store)
    assert sorted(r["request"] for r in rows) == sorted(f"list_pods(dev) #{i}" for i in range(30))
    on_disk = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(on_disk) == 30 and {r["kind"] for r in on_disk} == {"read"}
    await audit.aclose()


async def test_decisions_are_written_before_record_returns_even_with_batched_reads(store: Store) -> None:
    out = io.StringIO()
    audit = AuditLog(store=store, sinks=[StdoutSink(out)], batch_reads=True)
    await audit.record(entry("read", "deny"))  # a denied read is a decision
    await audit.record(entry("execute", "ok"))
    decisions = await store.read_stream_tail(store.keys.audit_stream(), 10)
    assert [(d["event"], d["decision"]) for d in decisions] == [("execute", "ok"), ("read", "deny")]
    assert len(out.getvalue().splitlines()) == 2
    await audit.aclose()


async def test_the_audit_command_sees_reads_still_queued(store: Store) -> None:
    audit = AuditLog(store=store, batch_reads=True)
    await audit.record(entry("read", "allow"))
    rows = await audit.tail(5)
    assert [r["event"] for r in rows] == ["read"]
    await audit.aclose()


async def test_a_full_queue_drops_reads_and_counts_every_one(store: Store) -> None:
    before = metrics.value("kubeduty_audit_entries_total", kind="read", outcome="dropped")
    audit = AuditLog(store=store, batch_reads=True, read_queue=5)
    for i in range(12):  # no await between them: the writer has no chance to drain
        await audit.record(entry("read", "allow", i))
    assert metrics.value("kubeduty_audit_entries_total", kind="read", outcome="dropped") - before == 7
    await audit.aclose()
    assert len(await reads_in(store)) == 5


async def test_closing_writes_what_is_still_queued(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(store=store, sinks=[RotatingFileSink(str(path), max_bytes=1 << 20, backups=1)], batch_reads=True)
    for i in range(3):
        await audit.record(entry("read", "allow", i))
    await audit.aclose()
    assert len(await reads_in(store)) == 3
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
