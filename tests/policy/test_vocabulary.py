"""Policy files fail closed: a verb, resource, tool or risk that exists nowhere is refused with file:line and a
"did you mean", at start-up, in `policy check`, and in `policy explain` (which can no longer say ALLOW)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.app import build_bot, policy_vocabulary
from bot.policy import PolicyError, load_policy
from bot.policy.cli import check, explain
from bot.policy.vocabulary import BUILTIN_TOOLS, DEFAULT
from bot.settings import Settings
from tools.catalogue import CATALOGUE

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"


def with_deny(tmp_path: Path, deny: str) -> Path:
    """The shipped policy plus one deny rule (YAML lines), as a new file."""
    text = DEFAULT_POLICY.read_text()
    assert "\ndeny:\n" in text
    f = tmp_path / "team.yaml"
    f.write_text(text.replace("\ndeny:\n", "\ndeny:\n" + deny))
    return f


def line_of(f: Path, needle: str) -> int:
    return next(i for i, line in enumerate(f.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("rule", "needle", "reason"),
    [
        ("  - name: typo\n    verbs: [delte]\n", "[delte]", "unknown verb 'delte' (did you mean 'delete'?)"),
        ("  - name: typo\n    resources: [secret]\n", "[secret]", "unknown resource 'secret' (did you mean 'secrets'"),
        ("  - name: typo\n    tools: [delete_pods]\n", "[delete_pods]", "did you mean 'delete_pod'"),
        ("  - name: typo\n    verbs: ['*', '!audti']\n", "!audti", "unknown verb '!audti' (did you mean 'audit'?)"),
        ("  - name: typo\n    verbs: [dle*]\n", "[dle*]", "verb pattern 'dle*' matches no known verb"),
        ("  - name: typo\n    verbs: [delete]\n    risks: [hihg]\n", "[hihg]", "unknown risk 'hihg'"),
    ],
)
def test_an_unknown_name_in_a_deny_rule_is_refused_at_its_line_with_a_suggestion(
    tmp_path: Path, rule: str, needle: str, reason: str
) -> None:
    f = with_deny(tmp_path, rule)
    with pytest.raises(PolicyError) as err:
        load_policy([f])
    assert (err.value.file, err.value.line) == (str(f), line_of(f, needle))
    assert reason in err.value.reason and err.value.reason.startswith("deny/0: ")


def test_role_and_approval_rules_are_checked_too(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("version: 1\nroles:\n  ops:\n    rules:\n      - verbs: [scael]\n")
    with pytest.raises(PolicyError, match="roles/ops/rules/0: unknown verb 'scael' \\(did you mean 'scale'"):
        load_policy([f])
    f.write_text(
        "version: 1\nroles:\n  ops:\n    rules:\n      - verbs: [scale]\n"
        "approvals:\n  - approvers: [ops]\n    resources: [deploymnets]\n"
    )
    with pytest.raises(PolicyError) as err:
        load_policy([f])
    assert err.value.line == 8 and "did you mean 'deployments'" in err.value.reason


def test_globs_negations_and_every_shipped_policy_still_load(tmp_path: Path) -> None:
    f = with_deny(tmp_path, "  - name: fine\n    verbs: ['del*', '!get']\n    tools: ['*_pod', 'alert_silence']\n")
    load_policy([f])
    for shipped in sorted((DEFAULT_POLICY.parent).rglob("*.yaml")):
        load_policy([shipped])


def test_policy_explain_refuses_a_file_with_a_typo_instead_of_saying_allow(tmp_path: Path) -> None:
    f = with_deny(tmp_path, "  - name: protect-kube-system\n    verbs: [delte]\n    namespaces: [kube-system]\n")
    out = io.StringIO()
    code = explain(
        request="/delete pod kube-system/coredns-abc", user="console:demo", chat="console:local", files=[f], out=out
    )
    assert code == 2 and "ALLOW" not in out.getvalue()
    assert f"{f}:{line_of(f, '[delte]')}: deny/0: unknown verb 'delte'" in out.getvalue()
    fixed = with_deny(tmp_path, "  - name: protect-kube-system\n    verbs: [delete]\n    namespaces: [kube-system]\n")
    out = io.StringIO()
    code = explain(
        request="/delete pod kube-system/coredns-abc", user="console:demo", chat="console:local", files=[fixed], out=out
    )
    assert code == 1 and "decision: DENY" in out.getvalue() and "protect-kube-system" in out.getvalue()


def test_policy_check_prints_file_line_and_exits_1(tmp_path: Path) -> None:
    f = with_deny(tmp_path, "  - name: typo\n    resources: [secret]\n")
    out = io.StringIO()
    assert check([f], out=out) == 1
    assert out.getvalue().startswith(f"{f}:{line_of(f, '[secret]')}: deny/0: unknown resource 'secret'")


def test_the_built_in_tool_names_policy_knows_are_the_catalogues() -> None:
    assert set(CATALOGUE) | {"audit"} == BUILTIN_TOOLS


def test_tools_declared_by_a_configured_mcp_server_may_be_named_and_undeclared_ones_may_not(tmp_path: Path) -> None:
    mcp = tmp_path / "mcp.yaml"
    mcp.write_text(
        "servers:\n  - name: k8smcp\n    command: /bin/true\n    read_only_tools: [pods_list]\n"
        "    tools:\n      resources_scale: {risk: medium, verb: scale, resource: deployments}\n"
        "      helm_rollout: {verb: promote, resource: releases}\n"
    )
    vocabulary = policy_vocabulary(Settings(_env_file=None, mcp_config=str(mcp)))  # type: ignore[call-arg]
    good = with_deny(
        tmp_path,
        "  - name: ext\n    tools: [k8smcp_pods_list, k8smcp_helm_rollout, 'k8smcp_*']\n    verbs: [promote]\n",
    )
    load_policy([good], vocabulary=vocabulary)
    with pytest.raises(PolicyError, match="unknown tool 'k8smcp_helm_rollout'"):  # not declared: refused
        load_policy([good], vocabulary=DEFAULT.merged(tools={"k8smcp_pods_list"}, verbs={"promote"}))
    bad = with_deny(tmp_path, "  - name: ext\n    tools: [k8smcp_pods_lst]\n")
    with pytest.raises(PolicyError, match="unknown tool 'k8smcp_pods_lst' \\(did you mean 'k8smcp_pods_list'"):
        load_policy([bad], vocabulary=vocabulary)


def test_the_bot_does_not_start_with_a_typo_in_its_policy(tmp_path: Path) -> None:
    f = with_deny(tmp_path, "  - name: typo\n    verbs: [delte]\n")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, policy_files=[str(f)], audit_log_path=str(tmp_path / "a.jsonl"), redis_url=None
    )
    with pytest.raises(PolicyError, match="unknown verb 'delte'"):
        build_bot(settings)
