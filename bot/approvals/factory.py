"""`build_gate`: the composition root's one call to get the safety layer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bot.approvals.audit import build_audit
from bot.approvals.gate import PolicyGate, ToolRunner
from bot.approvals.storage import RecordStore
from bot.core.actions import ActionCodec
from bot.policy import Policy, load_policy
from bot.settings import Settings, data_dir


def policy_paths(settings: Settings) -> list[Path]:
    if settings.policy_files:
        return [Path(p) for p in settings.policy_files]
    return [data_dir("policies") / "default.yaml"]


def build_gate(
    *,
    settings: Settings,
    store: RecordStore,
    gateway: ToolRunner,
    codec: ActionCodec | None = None,
    clock: Callable[[], float] = time.time,
    policy: Policy | None = None,
) -> PolicyGate:
    """Loads the policy files (raises `bot.policy.PolicyError(file, line, reason)` on a bad one: start-up stops)."""
    return PolicyGate(
        policy=policy if policy is not None else load_policy(policy_paths(settings)),
        store=store,
        gateway=gateway,
        audit=build_audit(settings, store, clock),
        codec=codec,
        default_cluster=settings.kube_context or "default",
        approval_ttl_seconds=settings.approval_ttl_seconds,
        clock=clock,
    )
