"""Bad policy files stop start-up with the file, the LINE and a reason."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.policy import PolicyError, load_policy
from bot.policy.cli import check, explain
from bot.settings import REPO_ROOT

GOOD_ROLE = "roles:\n  viewer:\n    rules:\n      - verbs: [get]\n"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("version: 1\nroles:\n  v:\n    rules: [\n", 5, "YAML syntax"),
        ("version: 1\n" + GOOD_ROLE + "        namespace: [dev]\n", 6, "'namespace' was unexpected"),
        ("version: 1\nroles:\n  v:\n    rules:\n      - verbs: get\n", 5, "is not of type 'array'"),
        (
            "version: 1\n" + GOOD_ROLE + "bindings:\n  - role: ghost\n    subjects: ['*']\n    chats: ['*']\n",
            7,
            "unknown role 'ghost'",
        ),
        (
            "version: 1\n" + GOOD_ROLE + "bindings:\n  - role: viewer\n    subjects: [group:nobody]\n"
            "    chats: ['*']\n",
            7,
            "unknown group 'nobody'",
        ),
        ("version: 1\n" + GOOD_ROLE + "bindings:\n  - role: viewer\n    subjects: ['*']\n", 7, "'chats' is a required"),
        ("version: 1\n" + GOOD_ROLE + "  viewer:\n    rules: []\n", 6, "duplicate key 'viewer'"),
        ("version: 2\n", 1, "version"),
        ("version: 1\n" + GOOD_ROLE + "approvals:\n  - approvers: [viewer]\n    count: 0\n", 8, "minimum"),
        ("version: 1\n" + GOOD_ROLE + "approvals:\n  - approvers: [viewer]\n    risks: [huge]\n", 8, "unknown risk"),
        ("version: 1\n" + GOOD_ROLE + "deny:\n  - subjects: ['*']\n", 7, "deny/0"),
        ("", 1, "empty"),
    ],
)
def test_a_bad_file_is_refused_with_its_line_and_reason(tmp_path: Path, text: str, line: int, reason: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy([f])
    assert (err.value.file, err.value.line) == (str(f), line), err.value.reason
    assert reason in err.value.reason


def test_a_role_defined_twice_across_files_names_the_first_place(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("version: 1\n" + GOOD_ROLE)
    b.write_text("version: 1\n\n" + GOOD_ROLE)
    with pytest.raises(PolicyError) as err:
        load_policy([a, b])
    assert (err.value.file, err.value.line) == (str(b), 4)
    assert f"{a}:3" in err.value.reason


def test_files_may_reference_roles_defined_in_another_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\n" + GOOD_ROLE)
    (tmp_path / "b.yaml").write_text("version: 1\nbindings:\n  - role: viewer\n    subjects: ['*']\n    chats: ['*']\n")
    p = load_policy([tmp_path])
    assert len(p.bindings) == 1 and "viewer" in p.roles
    out = io.StringIO()
    assert check([tmp_path / "a.yaml", tmp_path / "b.yaml"], out=out) == 0, out.getvalue()


def test_the_shipped_policies_are_valid() -> None:
    out = io.StringIO()
    files = [REPO_ROOT / "policies" / "default.yaml", *sorted((REPO_ROOT / "policies" / "examples").glob("*.yaml"))]
    for f in files:
        assert check([f], out=out) == 0, out.getvalue()


def test_policy_check_prints_file_line_and_reason_and_fails(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("version: 1\nroles:\n  v:\n    rules:\n      - verbs: [get]\n        colour: blue\n")
    out = io.StringIO()
    assert check([f], out=out) == 1
    assert out.getvalue().startswith(f"{f}:6: ")


def test_policy_explain_names_the_rule_and_the_decision() -> None:
    out = io.StringIO()
    rc = explain(
        request="/scale production/web 4",
        user="console:demo",
        chat="console:local",
        files=[REPO_ROOT / "policies" / "default.yaml"],
        out=out,
    )
    text = out.getvalue()
    assert rc == 3
    assert "APPROVAL" in text and "production-second-person" in text and "namespace production" in text
    out = io.StringIO()
    rc = explain(
        request="/logs dev/web-1",
        user="dingtalk:x",
        chat="dingtalk:y",
        files=[REPO_ROOT / "policies/default.yaml"],
        out=out,
    )
    assert rc == 1 and "DENY" in out.getvalue()


def test_policy_explain_never_says_a_secret_is_readable_even_when_the_file_forgets_the_deny(tmp_path: Path) -> None:
    f = tmp_path / "open.yaml"
    f.write_text(
        "version: 1\nroles:\n  v:\n    rules:\n      - verbs: ['*']\n        risks: [read]\n"
        "bindings:\n  - role: v\n    subjects: ['*']\n    chats: ['*']\n"
    )
    out = io.StringIO()
    rc = explain(request="/secret production/db", user="console:a", chat="console:local", files=[f], out=out)
    assert rc == 1 and "DENY" in out.getvalue() and "builtin:no-secrets" in out.getvalue()
    out = io.StringIO()
    assert explain(request="/pods dev", user="console:a", chat="console:local", files=[f], out=out) == 0


def test_policy_explain_reports_an_unknown_command_without_a_stack_trace() -> None:
    out = io.StringIO()
    rc = explain(
        request="/frobnicate x",
        user="console:a",
        chat="console:b",
        files=[REPO_ROOT / "policies/default.yaml"],
        out=out,
    )
    assert rc == 2 and "unknown command" in out.getvalue() and "Traceback" not in out.getvalue()


@pytest.mark.parametrize(
    ("request_text", "tool", "namespace"),
    [
        ("/scale cart 3 -n dev", "scale_deployment", "dev"),
        ("/scale dev/cart 3", "scale_deployment", "dev"),
        ("/delete pod web-1 -n production", "delete_pod", "production"),
        ("/cordon node-1", "cordon_node", ""),
        ("restart_deployment namespace=staging deployment=api", "restart_deployment", "staging"),
    ],
)
def test_explain_reads_the_bots_slash_syntax(request_text: str, tool: str, namespace: str) -> None:
    from bot.policy.cli import parse_request

    facts = parse_request(request_text)
    assert (facts.tool, facts.namespace, facts.mutates) == (tool, namespace, True)
