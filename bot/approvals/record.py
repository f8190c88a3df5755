"""The approval record as stored (a Redis hash of strings) and its states.

pending -> pending+1 -> ... -> approved -> executing -> executed | failed | unknown; or -> cancelled | expired.
Every move is a compare-and-set on `status`, so exactly one click (on one replica) wins each step, and only
the click that moves a record to `approved` runs the call.

`unknown`: the write got no answer (timeout, connection lost), and reading the object back could not tell
whether it took effect. `executing` with an old `executing_since` was left by a replica that died mid-change:
whoever sees it next reads the object back and settles it (never runs it again). `executed` and `failed` after
such a read-back carry `verified=1`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.policy import CallFacts
from bot.tooling.types import ToolCall

PENDING = "pending"
APPROVED = "approved"
EXECUTING = "executing"
EXECUTED = "executed"
FAILED = "failed"
UNKNOWN = "unknown"
CANCELLED = "cancelled"
EXPIRED = "expired"
FINAL = frozenset({APPROVED, EXECUTING, EXECUTED, FAILED, UNKNOWN, CANCELLED, EXPIRED})
IN_FLIGHT = frozenset({APPROVED, EXECUTING})  # the call may be running (or its runner died): never re-run

ID_RE = re.compile(r"^[0-9a-f]{32}$")


def pending_status(count: int) -> str:
    """The status after `count` approvals (each count is its own CAS step, so approvals never race)."""
    return PENDING if count == 0 else f"{PENDING}+{count}"


class TamperedRecord(Exception):
    """The stored call does not match its hash (or the record is malformed): never run it."""


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    id: str
    status: str
    call: ToolCall  # exactly what runs
    digest: str
    facts: CallFacts
    requester: str
    requester_name: str
    platform: str
    chat: str
    needed: int  # approvals by people other than the requester; 0 = the requester confirms
    approver_roles: tuple[str, ...]
    approvals: tuple[str, ...]  # subjects who approved so far
    rule: str
    created: float
    expires_at: float
    lang: str
    preview: dict[str, Any] | None
    card_ref: str = ""
    approved_at: float = 0.0  # when the last approval moved it to `approved`
    executing_since: float = 0.0  # when the write was sent (0: not yet)
    result: str = ""  # what the API answered, or what the read-back found

    @property
    def count(self) -> int:
        return len(self.approvals)

    def fields(self) -> dict[str, str]:
        return {
            "id": self.id,
            "status": self.status,
            "call": self.call.canonical(),
            "digest": self.digest,
            "facts": json.dumps(
                {
                    "tool": self.facts.tool,
                    "verb": self.facts.verb,
                    "resource": self.facts.resource,
                    "cluster": self.facts.cluster,
                    "namespace": self.facts.namespace,
                    "risk": self.facts.risk,
                    "mutates": self.facts.mutates,
                }
            ),
            "requester": self.requester,
            "requester_name": self.requester_name,
            "platform": self.platform,
            "chat": self.chat,
            "needed": str(self.needed),
            "approver_roles": json.dumps(list(self.approver_roles)),
            "approvals": json.dumps(list(self.approvals)),
            "rule": self.rule,
            "created": repr(self.created),
            "expires_at": repr(self.expires_at),
            "lang": self.lang,
            "preview": json.dumps(self.preview, ensure_ascii=False) if self.preview is not None else "",
            "card_ref": self.card_ref,
        }

    @classmethod
    def parse(cls, raw: dict[str, str]) -> ApprovalRecord:
        """Rebuild from the hash; verifies the call against its hash. Raises TamperedRecord."""
        try:
            doc = json.loads(raw["call"])
            call = ToolCall(tool=str(doc["tool"]), args=dict(doc["args"]))
            f = json.loads(raw["facts"])
            facts = CallFacts(
                tool=str(f["tool"]),
                verb=str(f["verb"]),
                resource=str(f["resource"]),
                cluster=str(f["cluster"]),
                namespace=str(f["namespace"]),
                risk=str(f["risk"]),
                mutates=bool(f["mutates"]),
            )
            preview = json.loads(raw["preview"]) if raw.get("preview") else None
            rec = cls(
                id=raw["id"],
                status=raw["status"],
                call=call,
                digest=raw["digest"],
                facts=facts,
                requester=raw["requester"],
                requester_name=raw.get("requester_name", ""),
                platform=raw["platform"],
                chat=raw["chat"],
                needed=int(raw["needed"]),
                approver_roles=tuple(json.loads(raw["approver_roles"])),
                approvals=tuple(json.loads(raw["approvals"])),
                rule=raw.get("rule", ""),
                created=float(raw["created"]),
                expires_at=float(raw["expires_at"]),
                lang=raw.get("lang", "zh"),
                preview=preview if isinstance(preview, dict) else None,
                card_ref=raw.get("card_ref", ""),
                approved_at=float(raw.get("approved_at") or 0.0),
                executing_since=float(raw.get("executing_since") or 0.0),
                result=raw.get("result", ""),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise TamperedRecord(f"malformed approval record: {exc}") from exc
        if call.digest() != rec.digest or call.tool != facts.tool:
            raise TamperedRecord("the stored call does not match its hash")
        return rec
