"""Policy decisions, table-driven: subjects x chats x namespaces x verbs, deny wins, globs, groups, approvals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policy import CallFacts, Effect, Policy, Why, decide, decide_approval, impersonation_for, load_policy
from bot.settings import REPO_ROOT

DEFAULT = REPO_ROOT / "policies" / "default.yaml"
TEAM = REPO_ROOT / "policies" / "examples" / "team.yaml"


def scale(ns: str, *, cluster: str = "default") -> CallFacts:
    return CallFacts("scale_deployment", "scale", "deployments", cluster, ns, "medium", True)


def delete_pod(ns: str) -> CallFacts:
    return CallFacts("delete_pod", "delete", "pods", "default", ns, "high", True)


def cordon() -> CallFacts:
    return CallFacts("cordon_node", "cordon", "nodes", "default", "", "low", True)


def read(resource: str, ns: str = "") -> CallFacts:
    return CallFacts(f"list_{resource}", "list", resource, "default", ns, "read", False)


AUDIT = CallFacts("audit", "audit", "audit")


@pytest.fixture(scope="module")
def default() -> Policy:
    return load_policy([DEFAULT])


@pytest.fixture(scope="module")
def team() -> Policy:
    return load_policy([TEAM])


@pytest.mark.parametrize(
    ("subject", "chat", "facts", "effect", "approvals"),
    [
        # the console demo user reads, operates in dev, needs a second person in production
        ("console:demo", "console:local", read("pods", "dev"), Effect.ALLOW, 0),
        ("console:demo", "console:local", read("pods"), Effect.ALLOW, 0),
        ("console:demo", "console:local", scale("dev"), Effect.ALLOW, 0),
        ("console:demo", "console:local", scale("production"), Effect.APPROVAL, 1),
        ("console:demo", "console:local", scale("prod-eu"), Effect.APPROVAL, 1),
        ("console:demo", "console:local", delete_pod("production"), Effect.APPROVAL, 2),
        ("console:demo", "console:local", cordon(), Effect.ALLOW, 0),
        ("console:demo", "console:local", AUDIT, Effect.ALLOW, 0),
        # Secrets never, even for the demo operator, even across all namespaces
        ("console:demo", "console:local", read("secrets", "dev"), Effect.DENY, 0),
        ("console:demo", "console:local", read("secrets"), Effect.DENY, 0),
        # chats that are not allowed: nothing at all
        ("dingtalk:staff1", "dingtalk:cidRandom", read("pods", "dev"), Effect.DENY, 0),
        ("feishu:ou_1", "feishu:oc_1", scale("dev"), Effect.DENY, 0),
        # the demo role is bound in console chats only
        ("console:demo", "dingtalk:cidAnyGroup", scale("dev"), Effect.DENY, 0),
    ],
)
def test_the_default_policy_decides_as_documented(
    default: Policy, subject: str, chat: str, facts: CallFacts, effect: Effect, approvals: int
) -> None:
    d = decide(default, subject, chat, facts)
    assert (d.effect, d.required_approvals) == (effect, approvals), d.reason


ONCALL_DT = "dingtalk:cidOnCallGroup0000000=="
ONCALL_FS = "feishu:oc_oncall0000000000000000"
DEV_CHAT = "feishu:oc_dev-payments"


@pytest.mark.parametrize(
    ("subject", "chat", "facts", "effect", "approvals", "why"),
    [
        # everyone reads in the on-call chats, nowhere else
        ("feishu:ou_random", ONCALL_FS, read("pods", "production"), Effect.ALLOW, 0, Why.GRANTED),
        ("feishu:ou_random", "feishu:oc_elsewhere", read("pods", "production"), Effect.DENY, 0, Why.CHAT_NOT_ALLOWED),
        # viewers cannot mutate or read audit
        ("feishu:ou_random", ONCALL_FS, scale("dev"), Effect.DENY, 0, Why.NO_GRANT),
        ("feishu:ou_random", ONCALL_FS, AUDIT, Effect.DENY, 0, Why.NO_GRANT),
        # developers (glob group member) in dev namespaces (glob), not in production
        ("feishu:ou_dev_amy", DEV_CHAT, scale("dev-payments"), Effect.ALLOW, 0, Why.GRANTED),
        ("feishu:ou_dev_amy", DEV_CHAT, scale("staging"), Effect.ALLOW, 0, Why.GRANTED),
        ("feishu:ou_dev_amy", DEV_CHAT, scale("production"), Effect.DENY, 0, Why.NO_GRANT),
        ("feishu:ou_dev_amy", DEV_CHAT, cordon(), Effect.DENY, 0, Why.NO_GRANT),
        # per user, not per chat: the same chat, another user, another answer
        ("feishu:ou_sre_alice", ONCALL_FS, scale("production"), Effect.APPROVAL, 1, Why.NEEDS_APPROVAL),
        ("feishu:ou_random", ONCALL_FS, scale("production"), Effect.DENY, 0, Why.NO_GRANT),
        # SREs: high risk in production needs two, node changes need one
        ("feishu:ou_sre_alice", ONCALL_FS, delete_pod("production"), Effect.APPROVAL, 2, Why.NEEDS_APPROVAL),
        ("dingtalk:manager1001", ONCALL_DT, cordon(), Effect.APPROVAL, 1, Why.NEEDS_APPROVAL),
        ("dingtalk:manager1001", ONCALL_DT, scale("dev"), Effect.ALLOW, 0, Why.GRANTED),
        # SREs are not bound in dev chats: roles are per chat
        ("feishu:ou_sre_alice", DEV_CHAT, scale("dev"), Effect.DENY, 0, Why.NO_GRANT),
        # deny wins over grants
        ("dingtalk:manager1001", ONCALL_DT, delete_pod("kube-system"), Effect.DENY, 0, Why.DENIED_BY_RULE),
        ("dingtalk:manager1001", ONCALL_DT, read("secrets", "dev"), Effect.DENY, 0, Why.DENIED_BY_RULE),
        ("feishu:ou_ext_bob", ONCALL_FS, read("pods", "production"), Effect.DENY, 0, Why.DENIED_BY_RULE),
        ("feishu:ou_ext_bob", ONCALL_FS, read("pods", "dev"), Effect.ALLOW, 0, Why.GRANTED),
        # a namespace-limited deny still covers an all-namespaces read
        ("feishu:ou_ext_bob", ONCALL_FS, read("pods"), Effect.DENY, 0, Why.DENIED_BY_RULE),
    ],
)
def test_the_team_example_decides_per_user_chat_namespace_and_verb(
    team: Policy, subject: str, chat: str, facts: CallFacts, effect: Effect, approvals: int, why: Why
) -> None:
    d = decide(team, subject, chat, facts)
    assert (d.effect, d.required_approvals, d.why) == (effect, approvals, why), d.reason


def test_a_mutating_tool_that_calls_itself_a_read_is_judged_as_a_mutation(default: Policy) -> None:
    sneaky = CallFacts("ext_run_pod", "get", "pods", "default", "dev", "read", True)
    d = decide(default, "feishu:ou_x", "console:local", sneaky)
    assert d.effect is Effect.DENY  # not a console subject; and viewer rules only grant risk=read
    d2 = decide(load_policy([TEAM]), "feishu:ou_random", ONCALL_FS, sneaky)
    assert d2.effect is Effect.DENY and d2.why is Why.NO_GRANT


@pytest.mark.parametrize(
    ("approver", "requester", "effect", "why"),
    [
        ("feishu:ou_lead_carol", "feishu:ou_sre_alice", Effect.ALLOW, Why.GRANTED),
        ("feishu:ou_sre_bob", "feishu:ou_sre_alice", Effect.ALLOW, Why.GRANTED),
        ("feishu:ou_sre_alice", "feishu:ou_sre_alice", Effect.DENY, Why.SELF_APPROVAL),
        ("feishu:ou_random", "feishu:ou_sre_alice", Effect.DENY, Why.NOT_APPROVER),
        ("feishu:ou_dev_amy", "feishu:ou_sre_alice", Effect.DENY, Why.NOT_APPROVER),
    ],
)
def test_only_holders_of_an_approver_role_other_than_the_requester_may_approve(
    team: Policy, approver: str, requester: str, effect: Effect, why: Why
) -> None:
    d = decide_approval(team, approver, requester, ONCALL_FS, scale("production"), ("lead", "sre"))
    assert (d.effect, d.why) == (effect, why)


def test_an_approver_role_held_in_another_chat_does_not_count(team: Policy) -> None:
    d = decide_approval(team, "feishu:ou_lead_carol", "feishu:ou_dev_amy", DEV_CHAT, scale("dev"), ("lead",))
    assert d.why is Why.NOT_APPROVER


def test_subjects_without_a_platform_prefix_match_on_every_platform(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(
        "version: 1\nroles:\n  r:\n    rules:\n      - verbs: [get]\n"
        "bindings:\n  - role: r\n    subjects: [alice]\n    chats: [room1]\n"
    )
    p = load_policy([f])
    facts = CallFacts("get_pod", "get", "pods", namespace="dev")
    assert decide(p, "dingtalk:alice", "dingtalk:room1", facts).effect is Effect.ALLOW
    assert decide(p, "feishu:alice", "feishu:room1", facts).effect is Effect.ALLOW
    assert decide(p, "feishu:alice2", "feishu:room1", facts).effect is Effect.DENY
    assert decide(p, "feishu:alice", "feishu:room2", facts).effect is Effect.DENY


def test_negated_globs_exclude_and_cluster_limits_apply(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(
        "version: 1\nroles:\n  r:\n    rules:\n      - verbs: ['*', '!delete']\n        clusters: ['staging-*']\n"
        "bindings:\n  - role: r\n    subjects: ['*']\n    chats: ['*']\n"
    )
    p = load_policy([f])
    assert decide(p, "console:a", "console:c", scale("dev", cluster="staging-1")).effect is Effect.ALLOW
    assert decide(p, "console:a", "console:c", scale("dev", cluster="prod-1")).effect is Effect.DENY
    d = decide(p, "console:a", "console:c", CallFacts("delete_pod", "delete", "pods", "staging-1", "dev", "low", True))
    assert d.effect is Effect.DENY


def test_impersonation_maps_group_members_to_a_kubernetes_identity(team: Policy) -> None:
    imp = impersonation_for(team, "feishu:ou_dev_amy")
    assert imp is not None and imp.user == "kubeduty:developer"
    assert impersonation_for(team, "feishu:ou_random") is None


def test_a_change_whose_namespace_is_unknown_gets_the_strictest_namespace_approval(default: Policy) -> None:
    # an external (MCP) tool that names its namespace argument differently: it could be production
    external = CallFacts("k8s_resources_delete", "delete", "", "default", "", "medium", True)
    d = decide(default, "console:demo", "console:local", external)
    assert (d.effect, d.required_approvals) == (Effect.APPROVAL, 1)
    # a known cluster-scoped change is not treated as a namespaced one
    assert decide(default, "console:demo", "console:local", cordon()).effect is Effect.ALLOW
