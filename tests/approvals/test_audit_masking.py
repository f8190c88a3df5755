"""The audit trail is read by more people than the chat: credentials in requests and results are masked there too."""

from __future__ import annotations

import json
from pathlib import Path

from bot.approvals.audit import AuditEntry, AuditLog
from bot.store import Store


async def test_credentials_in_an_audited_request_are_masked_in_the_stream_and_the_file(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(store=store, path=str(path))
    await audit.record(
        AuditEntry(
            event="propose",
            platform="feishu",
            chat="oc_1",
            user="ou_1",
            request='k8smcp_resources_create_or_update(resource="DATABASE_URL=postgres://app:S3cr3t-Passw0rd@db:5432/x")',
            result="upstream said: password=hunter2 is wrong",
        )
    )
    (row,) = await audit.tail(5)
    on_disk = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    for entry in (row, on_disk):
        text = json.dumps(entry)
        assert "S3cr3t-Passw0rd" not in text and "hunter2" not in text
        assert "k8smcp_resources_create_or_update" in entry["request"]  # the request itself stays readable
