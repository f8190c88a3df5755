"""A bad policy file stops start-up: `build_gate` raises with the file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.approvals import PolicyGate, build_gate
from bot.policy import PolicyError
from bot.settings import Settings
from bot.store import Store
from bot.tooling.gateway import ToolGateway


def test_a_bad_policy_file_stops_start_up_with_file_line_and_reason(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "team.yaml"
    bad.write_text("version: 1\nroles:\n  sre:\n    rules:\n      - verbs: [scale]\n        namespace: [prod]\n")
    settings = Settings(policy_files=[str(bad)], audit_log_path=str(tmp_path / "a.jsonl"))
    with pytest.raises(PolicyError) as err:
        build_gate(settings=settings, store=store, gateway=ToolGateway([]))
    assert (err.value.file, err.value.line) == (str(bad), 6)
    assert "namespace" in err.value.reason


def test_without_configured_files_the_shipped_default_policy_is_loaded(store: Store, tmp_path: Path) -> None:
    gate = build_gate(
        settings=Settings(policy_files=[], audit_log_path=str(tmp_path / "a.jsonl")),
        store=store,
        gateway=ToolGateway([]),
    )
    assert isinstance(gate, PolicyGate)
    assert gate.policy.files[0].endswith("policies/default.yaml")
    assert {"viewer", "operator", "approver", "demo-operator"} <= set(gate.policy.roles)
    assert gate.action_ops == {"approval.confirm", "approval.cancel"}
