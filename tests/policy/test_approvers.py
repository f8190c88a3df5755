"""Who the approval card names: the people the policy spells out, checked like a click would be."""

from __future__ import annotations

from bot.policy.approvers import MAX_NAMED, approvers_for
from bot.policy.model import ApprovalRule, Binding, CallFacts, DenyRule, Match, Policy, Role, Rule

FACTS = CallFacts("scale_deployment", "scale", "deployments", "default", "dev", "medium", True)
CHAT = "dingtalk:cid-1"


def policy(*subjects: str, deny: tuple[DenyRule, ...] = (), groups: dict[str, tuple[str, ...]] | None = None) -> Policy:
    return Policy(
        groups=groups or {},
        roles={"approver": Role("approver", (Rule("r", Match(verbs=("audit",))),))},
        bindings=(Binding("approvers", ("approver",), subjects, ("dingtalk:*", "feishu:*")),),
        deny=deny,
        approvals=(ApprovalRule("dev", Match(namespaces=("dev",)), ("approver",)),),
    )


def test_named_approvers_on_the_requesters_platform_are_listed_and_the_requester_never() -> None:
    p = policy("dingtalk:staff-bob", "feishu:ou_bob", "dingtalk:staff-alice", "carol")
    who = approvers_for(p, requester="dingtalk:staff-alice", chat=CHAT, facts=FACTS, roles=("approver",))
    assert who.subjects == ("dingtalk:staff-bob", "dingtalk:carol") and not who.open


def test_group_members_count_and_a_glob_makes_the_list_open() -> None:
    p = policy("group:oncall", "dingtalk:ops-*", groups={"oncall": ("dingtalk:staff-dan",)})
    who = approvers_for(p, requester="dingtalk:staff-alice", chat=CHAT, facts=FACTS, roles=("approver",))
    assert who.subjects == ("dingtalk:staff-dan",) and who.open


def test_an_approver_denied_this_call_is_not_named() -> None:
    deny = (DenyRule("no-bob", Match(), subjects=("dingtalk:staff-bob",)),)
    p = policy("dingtalk:staff-bob", "dingtalk:staff-erin", deny=deny)
    who = approvers_for(p, requester="dingtalk:staff-alice", chat=CHAT, facts=FACTS, roles=("approver",))
    assert who.subjects == ("dingtalk:staff-erin",)


def test_a_binding_in_another_chat_names_nobody_here() -> None:
    p = policy("dingtalk:staff-bob")
    who = approvers_for(p, requester="dingtalk:staff-alice", chat="console:local", facts=FACTS, roles=("approver",))
    assert who.subjects == () and not who.open


def test_a_long_list_is_cut_and_says_how_many_more() -> None:
    p = policy(*(f"dingtalk:staff-{i}" for i in range(MAX_NAMED + 5)))
    who = approvers_for(p, requester="dingtalk:staff-alice", chat=CHAT, facts=FACTS, roles=("approver",))
    assert len(who.subjects) == MAX_NAMED and who.more == 5
