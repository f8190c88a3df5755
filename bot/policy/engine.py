"""`decide`: allow, deny or needs-approval for one subject, in one chat, for one call. Pure.

Order: deny rules win; then the subject's roles in this chat must grant the call; then, for mutations,
the strictest matching approval rule says how many other people must approve, and with which role.
"""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase

from bot.policy.model import (
    ApprovalRule,
    CallFacts,
    Decision,
    Effect,
    Impersonation,
    Match,
    Policy,
    Rule,
    Why,
)

READ_VERBS = frozenset({"get", "list", "watch", "logs", "describe", "diagnose", "top", "read", "explain"})


def _glob(patterns: tuple[str, ...], value: str) -> bool:
    """Any positive glob matches and no `!glob` does (`["*", "!audit"]`: everything but audit)."""
    pos = [p for p in patterns if not p.startswith("!")]
    if any(fnmatchcase(value, p[1:]) for p in patterns if p.startswith("!")):
        return False
    return any(fnmatchcase(value, p) for p in pos)


def normalise(f: CallFacts) -> CallFacts:
    """A mutating tool is never judged as a read: an untrusted tool that changes things but calls itself
    `get` / risk `read` would otherwise slip through rules meant for reads."""
    if not f.mutates:
        return f
    verb = "invoke" if (f.verb in READ_VERBS or not f.verb) else f.verb
    risk = "medium" if f.risk in ("read", "") else f.risk
    return replace(f, verb=verb, risk=risk)


def _id_match(pattern: str, value: str) -> bool:
    """`platform:id` patterns match exactly that platform; a pattern without a platform matches the id on any."""
    if pattern == "*":
        return True
    if ":" in pattern:
        return fnmatchcase(value, pattern)
    _, _, bare = value.partition(":")
    return fnmatchcase(bare, pattern)


def _member(patterns: tuple[str, ...], value: str, groups: dict[str, tuple[str, ...]]) -> bool:
    for p in patterns:
        if p.startswith("group:"):
            if any(_id_match(m, value) for m in groups.get(p[len("group:") :], ())):
                return True
        elif _id_match(p, value):
            return True
    return False


def _namespace_ok(patterns: tuple[str, ...], namespace: str) -> bool:
    # Cluster-scoped or all-namespaces calls ("") only match a rule open to every namespace.
    if not namespace:
        return "*" in patterns and _glob(patterns, "")
    return _glob(patterns, namespace)


def matches(m: Match, f: CallFacts, *, deny: bool = False) -> bool:
    # A deny rule limited to some namespaces still applies to an all-namespaces call: it would include them.
    ns_ok = True if (deny and not f.namespace) else _namespace_ok(m.namespaces, f.namespace)
    return (
        _glob(m.verbs, f.verb)
        and _glob(m.tools, f.tool)
        and _glob(m.resources, f.resource)
        and ns_ok
        and _glob(m.clusters, f.cluster)
        and _glob(m.risks, f.risk)
    )


def roles_of(policy: Policy, subject: str, chat: str) -> tuple[str, ...]:
    """The roles bound to `subject` in `chat`, in file order, without duplicates."""
    out: list[str] = []
    for b in policy.bindings:
        if _member(b.subjects, subject, policy.groups) and _member(b.chats, chat, policy.chat_groups):
            out += [r for r in b.roles if r not in out]
    return tuple(out)


def _label(name: str, where: str) -> str:
    return f"{name}@{where}" if where else name


def _grant(policy: Policy, roles: tuple[str, ...], facts: CallFacts) -> Rule | None:
    for role in roles:
        for rule in policy.roles[role].rules:
            if matches(rule.match, facts):
                return rule
    return None


CLUSTER_SCOPED = frozenset(
    {"nodes", "namespaces", "persistentvolumes", "clusterroles", "clusterrolebindings", "storageclasses"}
)


def _approval(policy: Policy, facts: CallFacts) -> ApprovalRule | None:
    if not facts.mutates:
        return None
    # A change whose namespace we cannot see (an external tool naming it differently) could be in production:
    # namespace-limited approval rules apply to it, as deny rules do. Known cluster-scoped kinds are exempt.
    unknown_ns = not facts.namespace and facts.resource not in CLUSTER_SCOPED
    best: ApprovalRule | None = None
    for a in policy.approvals:
        if matches(a.match, facts, deny=unknown_ns) and (best is None or a.count > best.count):
            best = a
    return best


def _what(f: CallFacts) -> str:
    where = f"namespace {f.namespace}" if f.namespace else "all namespaces / cluster scope"
    return f"{f.verb} {f.resource or f.tool} ({f.tool}) in {where} on cluster {f.cluster}"


def decide(policy: Policy, subject: str, chat: str, facts: CallFacts) -> Decision:
    facts = normalise(facts)
    roles = roles_of(policy, subject, chat)
    for d in policy.deny:
        if _member(d.subjects, subject, policy.groups) and _member(d.chats, chat, policy.chat_groups):
            if matches(d.match, facts, deny=True):
                return Decision(
                    Effect.DENY,
                    _label(d.name, d.where),
                    Why.DENIED_BY_RULE,
                    f"deny rule {d.name!r} forbids {_what(facts)}",
                    roles=roles,
                )
    if not roles:
        return Decision(Effect.DENY, "", Why.CHAT_NOT_ALLOWED, f"{subject} has no role in chat {chat}", roles=roles)
    rule = _grant(policy, roles, facts)
    if rule is None:
        return Decision(
            Effect.DENY,
            "",
            Why.NO_GRANT,
            f"none of the roles {', '.join(roles)} grants {_what(facts)}",
            roles=roles,
        )
    gate = _approval(policy, facts)
    if gate is not None:
        return Decision(
            Effect.APPROVAL,
            _label(gate.name, gate.where),
            Why.NEEDS_APPROVAL,
            f"granted by {rule.name!r}; approval rule {gate.name!r} needs {gate.count} approval(s) "
            f"from {', '.join(gate.approvers)} (not the requester)",
            approvers=gate.approvers,
            required_approvals=gate.count,
            roles=roles,
        )
    return Decision(
        Effect.ALLOW, _label(rule.name, rule.where), Why.GRANTED, f"granted by rule {rule.name!r}", roles=roles
    )


def decide_approval(
    policy: Policy, approver: str, requester: str, chat: str, facts: CallFacts, approvers: tuple[str, ...]
) -> Decision:
    """May `approver` approve `requester`'s call in `chat`? Holders of an approver role, never the requester,
    and a deny rule on the approver for this call also stops the approval."""
    facts = normalise(facts)
    if approver == requester:
        return Decision(Effect.DENY, "", Why.SELF_APPROVAL, "the requester cannot approve their own change")
    roles = roles_of(policy, approver, chat)
    for d in policy.deny:
        if _member(d.subjects, approver, policy.groups) and _member(d.chats, chat, policy.chat_groups):
            if matches(d.match, facts, deny=True):
                return Decision(
                    Effect.DENY,
                    _label(d.name, d.where),
                    Why.DENIED_BY_RULE,
                    f"deny rule {d.name!r} forbids {_what(facts)}",
                    roles=roles,
                )
    held = [r for r in roles if r in approvers]
    if not held:
        return Decision(
            Effect.DENY,
            "",
            Why.NOT_APPROVER,
            f"{approver} holds none of the approver roles {', '.join(approvers)} in chat {chat}",
            approvers=approvers,
            roles=roles,
        )
    return Decision(Effect.ALLOW, f"role:{held[0]}", Why.GRANTED, f"{approver} approves as {held[0]}", roles=roles)


def impersonation_for(policy: Policy, subject: str) -> Impersonation | None:
    """The Kubernetes identity `subject` acts as, if the policy maps one (first match wins)."""
    for imp in policy.impersonation:
        if _member(imp.subjects, subject, policy.groups):
            return imp
    return None
