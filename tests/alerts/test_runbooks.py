"""Runbooks: the shipped ones are valid and cover the common cases; a bad file fails `kubeduty runbook check`
with file:line; matching and parameters come from the alert's labels."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from tools.runbooks import RUNBOOK_DIR, Runbook, load_runbooks

CASES = {
    "oom-raise-memory",
    "crashloop-restart",
    "bad-rollout-rollback",
    "image-pull-rollback",
    "pending-scale-down",
    "node-not-ready-cordon",
    "hpa-at-max-scale",
    "cert-expiry-restart",
    "coredns-restart",
    "disk-pressure-cordon",
    "liveness-probe-restart",
    "stuck-rollout-rollback",
    "evicted-pod-cleanup",
    "error-rate-after-deploy-rollback",
    "dependency-down-restart",
}


def test_the_shipped_runbooks_are_valid_and_cover_the_common_cases() -> None:
    books, problems = load_runbooks()
    assert problems == []
    assert {b.id for b in books} >= CASES and len(books) >= 15
    for b in books:
        assert b.verify.promql and b.verify.timeout_seconds > 0, b.id
        assert b.title.zh and b.title.en, b.id


def test_runbook_check_passes_on_the_shipped_files() -> None:
    result = CliRunner().invoke(app, ["runbook", "check"])
    assert result.exit_code == 0 and "runbooks OK" in result.output


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD_HEAD = """id: test-book
title: {zh: 测试, en: test}
risk: low
match: {alerts: [X]}
params:
  namespace: {from: label.namespace}
verify: {promql: "up", condition: "== 1"}
"""


def test_an_unknown_tool_and_a_shell_step_fail_the_check_with_file_and_line(tmp_path: Path) -> None:
    unknown = _write(tmp_path, "unknown.yaml", GOOD_HEAD + "steps:\n  - tool: nuke_cluster\n    args: {}\n")
    shell = _write(
        tmp_path, "shell.yaml", GOOD_HEAD.replace("test-book", "shell-book") + "steps:\n  - shell: rm -rf /\n"
    )
    result = CliRunner().invoke(app, ["runbook", "check", str(unknown), str(shell)])
    assert result.exit_code == 1
    assert f"{unknown}:9: steps[0]: unknown tool 'nuke_cluster'" in result.output
    assert f"{shell}:9: steps[0]: shell steps are not allowed ('shell')" in result.output


def test_a_write_in_the_prechecks_or_an_undeclared_parameter_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "bad.yaml",
        GOOD_HEAD
        + "prechecks:\n  - tool: delete_pod\n    args: {namespace: '{namespace}', pod: x}\n"
        + "steps:\n  - tool: restart_deployment\n    args: {namespace: '{namespace}', deployment: '{deployment}'}\n",
    )
    books, problems = load_runbooks([path])
    messages = [str(p) for p in problems]
    assert books == []
    assert any(":9: prechecks[0]: 'delete_pod' changes the cluster" in m for m in messages), messages
    assert any(":13: steps[0].args.deployment: unknown parameter '{deployment}'" in m for m in messages), messages


def test_a_runbook_matches_by_alert_name_and_binds_its_parameters_from_the_labels() -> None:
    books, _ = load_runbooks([RUNBOOK_DIR / "oom-raise-memory.yaml"])
    (oom,) = books
    labels = {"namespace": "production", "deployment": "orders", "container": "orders", "pod": "orders-1-2"}
    assert oom.matches("KubePodOOMKilled", labels)
    assert not oom.matches("KubeNodeNotReady", labels)
    assert oom.matches("SomethingElse", labels, findings=["OOMKilled"]), "a diagnosis finding matches too"
    values = oom.bind(labels)
    assert values == {"namespace": "production", "deployment": "orders", "container": "orders", "memory_limit": "512Mi"}
    assert Runbook.fill(oom.steps[0], values) == {
        "namespace": "production",
        "deployment": "orders",
        "container": "orders",
        "memory_limit": "512Mi",
    }
    assert oom.bind({"namespace": "production"}) is None, "a missing label means the runbook does not apply"
