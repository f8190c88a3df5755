"""Who may approve a change: the people the policy names, checked with the same `decide_approval` the gate
uses at click time. Pure.

Only subjects the files spell out (`dingtalk:staff-bob`, or a bare `bob` meaning that id on any platform, also
through `group:`) can be named; a glob (`"*"`, `"feishu:ou_*"`) grants a role to people nobody can list. Then
`open` says so, and the card keeps its Approve button for everyone (the gate still refuses a non-approver).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.policy.engine import _member, decide_approval
from bot.policy.model import CallFacts, Effect, Policy

MAX_NAMED = 20  # approvers named on one card; a policy naming more says "and N more" rather than flood a chat
_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Approvers:
    subjects: tuple[str, ...]  # `platform:id`, in policy file order, never the requester
    open: bool = False  # some approver role is bound by a glob: people we cannot name may approve too
    more: int = 0  # named approvers left off the list (over MAX_NAMED)


def _candidates(policy: Policy, pattern: str, platform: str) -> tuple[list[str], bool]:
    """Concrete subjects a binding's subject pattern stands for on `platform`, and whether it was a glob."""
    if pattern.startswith("group:"):
        out: list[str] = []
        globbed = False
        for member in policy.groups.get(pattern[len("group:") :], ()):
            found, g = _candidates(policy, member, platform)
            out += found
            globbed = globbed or g
        return out, globbed
    if any(c in _GLOB for c in pattern):
        return [], True
    if ":" in pattern:
        return ([pattern] if pattern.split(":", 1)[0] == platform else []), False
    return [f"{platform}:{pattern}"], False


def approvers_for(policy: Policy, *, requester: str, chat: str, facts: CallFacts, roles: tuple[str, ...]) -> Approvers:
    """The people who may approve `requester`'s change in `chat` now: holders of one of `roles` bound in this
    chat, not denied this call, never the requester."""
    platform = requester.split(":", 1)[0]
    named: list[str] = []
    open_ = False
    for binding in policy.bindings:
        if not set(binding.roles) & set(roles) or not _member(binding.chats, chat, policy.chat_groups):
            continue
        for pattern in binding.subjects:
            found, globbed = _candidates(policy, pattern, platform)
            open_ = open_ or globbed
            named += [s for s in found if s not in named]
    allowed = tuple(
        s for s in named if decide_approval(policy, s, requester, chat, facts, roles).effect is Effect.ALLOW
    )
    return Approvers(allowed[:MAX_NAMED], open_, max(0, len(allowed) - MAX_NAMED))
