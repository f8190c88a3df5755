"""Typed policy: what the YAML files say, after validation. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

RISK_ORDER = {"read": 0, "low": 1, "medium": 2, "high": 3}


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    APPROVAL = "approval"  # allowed once enough other people approve


class Why(StrEnum):
    """Machine-readable reason of a decision; callers build user-facing text from it and the facts."""

    GRANTED = "granted"
    NEEDS_APPROVAL = "needs_approval"
    CHAT_NOT_ALLOWED = "chat_not_allowed"  # no binding at all for this subject in this chat
    DENIED_BY_RULE = "denied_by_rule"
    NO_GRANT = "no_grant"  # bound in this chat, but no rule grants this verb/resource/namespace
    SELF_APPROVAL = "self_approval"
    NOT_APPROVER = "not_approver"


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What a policy decision looks at. `namespace` "" = cluster-scoped or all namespaces."""

    tool: str
    verb: str
    resource: str
    cluster: str = "default"
    namespace: str = ""
    risk: str = "read"
    mutates: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    """The resource side of a rule; every dimension is a tuple of globs, all must match."""

    verbs: tuple[str, ...] = ("*",)
    tools: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    namespaces: tuple[str, ...] = ("*",)
    clusters: tuple[str, ...] = ("*",)
    risks: tuple[str, ...] = ("*",)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    match: Match
    where: str = ""  # "file:line", for `policy explain` and audit


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    rules: tuple[Rule, ...]
    description: str = ""
    where: str = ""


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    roles: tuple[str, ...]
    subjects: tuple[str, ...]  # globs, or `group:<name>`
    chats: tuple[str, ...]  # globs, or `group:<name>` (a chat group)
    where: str = ""


@dataclass(frozen=True, slots=True)
class DenyRule:
    name: str
    match: Match
    subjects: tuple[str, ...] = ("*",)
    chats: tuple[str, ...] = ("*",)
    where: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    name: str
    match: Match
    approvers: tuple[str, ...]  # role names whose holders may approve
    count: int = 1  # distinct approvers needed, never counting the requester
    where: str = ""


@dataclass(frozen=True, slots=True)
class Impersonation:
    subjects: tuple[str, ...]
    user: str
    groups: tuple[str, ...] = ()
    where: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    chat_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    bindings: tuple[Binding, ...] = ()
    deny: tuple[DenyRule, ...] = ()
    approvals: tuple[ApprovalRule, ...] = ()
    impersonation: tuple[Impersonation, ...] = ()
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    effect: Effect
    rule: str  # the rule that decided (name@file:line), or "" when nothing matched
    why: Why
    reason: str  # one English sentence for logs, audit and `policy explain`
    approvers: tuple[str, ...] = ()  # role names that may approve, when effect is APPROVAL
    required_approvals: int = 0
    roles: tuple[str, ...] = ()  # the caller's roles in this chat

    @property
    def allowed(self) -> bool:
        return self.effect is not Effect.DENY
