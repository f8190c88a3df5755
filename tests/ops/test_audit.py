"""Audit: decisions and reads in separate streams (reads sampled), stdout and rotating-file sinks, one documented
schema for every entry wherever it lands, and a clear start-up failure for an audit file that cannot be written."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.approvals.audit import ENTRY_SCHEMA, AuditEntry, AuditLog, build_audit
from bot.approvals.audit_sinks import AuditConfigError, RotatingFileSink, StdoutSink, check_writable
from bot.ops import metrics
from bot.settings import REPO_ROOT, Settings
from bot.store import Store

VALIDATOR = jsonschema.Draft202012Validator(ENTRY_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def entry(event: str = "execute", decision: str = "ok", **kw: str) -> AuditEntry:
    base = {"platform": "feishu", "chat": "oc_1", "user": "ou_1", "request": "scale_deployment(dev/web, 3)"}
    return AuditEntry(event=event, decision=decision, **(base | kw))


def read(decision: str = "allow") -> AuditEntry:
    return entry(event="read", decision=decision, request="list_pods(dev)")


async def streams(store: Store) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    decisions = await store.read_stream_tail(store.keys.audit_stream(), 1000)
    reads = await store.read_stream_tail(store.keys.custom("audit", "reads"), 1000)
    return decisions, reads


async def test_reads_never_evict_decisions_because_they_go_to_their_own_stream(store: Store) -> None:
    audit = AuditLog(store=store, maxlen=5, read_maxlen=5)
    await audit.record(entry(event="propose", decision="approval"))
    await audit.record(entry(event="execute", decision="ok"))
    for _ in range(50):
        await audit.record(read())
    decisions, reads = await streams(store)
    assert [d["event"] for d in decisions] == ["execute", "propose"]
    assert {r["event"] for r in reads} == {"read"} and 5 <= len(reads) < 50  # capped (approximately)
    assert await store.ttl(store.keys.audit_stream()) > 30 * 24 * 3600  # decisions kept for the retention
    assert 0 < await store.ttl(store.keys.custom("audit", "reads")) <= 7 * 24 * 3600


async def test_reads_are_sampled_and_counted_and_a_denied_read_is_always_a_decision(store: Store) -> None:
    draws = iter([0.05, 0.5, 0.95, 0.2] * 10)
    audit = AuditLog(store=store, read_sample_rate=0.25, sample=lambda: next(draws))
    before = metrics.value("kubeduty_audit_entries_total", kind="read", outcome="sampled_out")
    for _ in range(8):
        await audit.record(read())
    await audit.record(read(decision="deny"))
    decisions, reads = await streams(store)
    assert len(reads) == 4  # 0.05 and 0.2 of each four draws are below 0.25
    assert metrics.value("kubeduty_audit_entries_total", kind="read", outcome="sampled_out") - before == 4
    assert [(d["event"], d["decision"], d["kind"]) for d in decisions] == [("read", "deny", "decision")]
    off = AuditLog(store=store, read_sample_rate=0)
    await off.record(read())
    assert len((await streams(store))[1]) == 4


async def test_the_audit_command_shows_decisions_and_kept_reads_newest_first(store: Store) -> None:
    clock = iter(float(t) for t in range(1_700_000_000, 1_700_000_100))
    audit = AuditLog(store=store, clock=lambda: next(clock))
    await audit.record(entry(event="propose", decision="approval"))
    await audit.record(read())
    await audit.record(entry(event="execute", decision="ok"))
    rows = await audit.tail(10)
    assert [r["event"] for r in rows] == ["execute", "read", "propose"]
    assert await audit.tail(10, chat="oc_other") == []


async def test_every_entry_matches_the_documented_schema_in_redis_on_stdout_and_in_the_file(
    store: Store, tmp_path: Path
) -> None:
    out = io.StringIO()
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(store=store, sinks=[StdoutSink(out), RotatingFileSink(str(path), max_bytes=1 << 20, backups=2)])
    await audit.record(entry(event="approve", decision="approved", approvers="feishu:ou_2", approval_id="a1"))
    await audit.record(entry(request="x" * 5000, result="password=hunter2 " + "y" * 5000))
    await audit.record(read())
    decisions, reads = await streams(store)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    on_disk = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(on_disk) == 3 and len(decisions) + len(reads) == 3
    for row in [*decisions, *reads, *lines, *on_disk]:
        VALIDATOR.validate(row)
    long = lines[1]
    assert long["request"].endswith("(truncated)") and "hunter2" not in long["result"]
    with pytest.raises(jsonschema.ValidationError):  # the schema does reject what it should
        VALIDATOR.validate({**lines[0], "event": "launch-missiles"})


def test_the_deploy_readme_documents_exactly_this_schema() -> None:
    text = (REPO_ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)\n```", text, flags=re.S)
    assert ENTRY_SCHEMA in [json.loads(b) for b in blocks]


def _listing(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in directory.iterdir()}


async def test_the_audit_file_is_rotated_into_numbered_backups(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = RotatingFileSink(str(path), max_bytes=2000, backups=2)
    audit = AuditLog(store=store, sinks=[sink])
    for i in range(40):
        await audit.record(entry(result=f"run {i} " + "z" * 100))
    sink.close()
    files = _listing(tmp_path)
    assert sorted(files) == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert all(size <= 2000 + 1000 for size in files.values())
    newest = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    assert newest["result"].startswith("run 39")


async def test_a_sink_that_cannot_write_logs_once_and_the_others_still_get_the_entry(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "gone"
    directory.mkdir()
    broken = RotatingFileSink(str(directory / "audit.jsonl"), max_bytes=0, backups=0)
    directory.rmdir()  # the volume went away after start-up
    out = io.StringIO()
    audit = AuditLog(store=store, sinks=[broken, StdoutSink(out)])
    before = metrics.value("kubeduty_audit_sink_errors_total", sink="file")
    for _ in range(5):
        await audit.record(entry())
    assert len(out.getvalue().splitlines()) == 5 and len((await streams(store))[0]) == 5
    assert metrics.value("kubeduty_audit_sink_errors_total", sink="file") - before == 5
    errors = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(errors) == 1 and errors[0].exc_info is None  # one line, no traceback per message


def _unwritable_dir() -> str:
    """A directory this process cannot create files in, like a read-only root filesystem."""
    if os.geteuid() == 0:
        return "/sys/kernel"  # sysfs: not even root creates regular files there
    path = tempfile.mkdtemp(prefix="kd-ro-")
    os.chmod(path, 0o555)
    return path


def test_an_unwritable_audit_path_is_refused_by_name_at_start_up() -> None:
    with pytest.raises(AuditConfigError, match="AUDIT_LOG_PATH=kubeduty-audit.jsonl"):
        previous = os.getcwd()
        os.chdir(_unwritable_dir())
        try:
            check_writable("kubeduty-audit.jsonl")
        finally:
            os.chdir(previous)


def test_build_audit_follows_the_settings(store: Store, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        audit_stdout=True,
        audit_log_path=str(tmp_path / "a.jsonl"),
        audit_log_max_bytes=1234,
        audit_read_sample_rate=0.5,
    )
    audit = build_audit(settings, store)
    assert [s.name for s in audit.sinks] == ["stdout", "file"]
    none = build_audit(Settings(_env_file=None, audit_log_path=""), store)  # type: ignore[call-arg]
    assert none.sinks == []


def test_kubeduty_run_with_a_relative_audit_path_on_a_read_only_root_stops_with_one_clear_line(
    redis_url: str,
) -> None:
    env: dict[str, Any] = {
        **os.environ,
        "KUBEDUTY_ENV_FILE": os.devnull,
        "REDIS_URL": redis_url,
        "ACTION_SECRET": "a" * 64,
        "FEISHU_APP_ID": "cli_x",
        "FEISHU_APP_SECRET": "s",
        "AUDIT_LOG_PATH": "kubeduty-audit.jsonl",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env=env,
        cwd=_unwritable_dir(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "AUDIT_LOG_PATH=kubeduty-audit.jsonl" in proc.stderr and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "refusing to start" in line]) == 1
