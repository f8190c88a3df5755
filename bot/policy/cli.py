"""`kubeduty policy check` and `kubeduty policy explain`: the policy engine from a terminal."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.policy.engine import decide, impersonation_for, roles_of
from bot.policy.loader import PolicyError, load_policy
from bot.policy.model import CallFacts, Decision, Effect, Policy, Why
from bot.policy.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class _ToolFacts:
    verb: str
    resource: str
    risk: str
    mutates: bool
    params: tuple[str, ...]  # positional slots of the slash form: "ns/name" fills namespace + the name slot


# The built-in tools as policy sees them (mirrors tools/catalogue.py, which policy may not import).
BUILTIN: dict[str, _ToolFacts] = {
    "scale_deployment": _ToolFacts("scale", "deployments", "medium", True, ("deployment", "replicas")),
    "scale_statefulset": _ToolFacts("scale", "statefulsets", "medium", True, ("statefulset", "replicas")),
    "restart_deployment": _ToolFacts("restart", "deployments", "medium", True, ("deployment",)),
    "rollback_deployment": _ToolFacts("rollback", "deployments", "medium", True, ("deployment", "revision")),
    "delete_pod": _ToolFacts("delete", "pods", "medium", True, ("pod",)),
    "cordon_node": _ToolFacts("cordon", "nodes", "low", True, ("node",)),
    "uncordon_node": _ToolFacts("uncordon", "nodes", "low", True, ("node",)),
    "list_clusters": _ToolFacts("list", "clusters", "read", False, ()),
    "cluster_overview": _ToolFacts("list", "pods", "read", False, ()),
    "list_namespaces": _ToolFacts("list", "namespaces", "read", False, ()),
    "list_pods": _ToolFacts("list", "pods", "read", False, ("namespace",)),
    "describe_pod": _ToolFacts("get", "pods", "read", False, ("pod",)),
    "pod_logs": _ToolFacts("logs", "pods/log", "read", False, ("pod",)),
    "list_events": _ToolFacts("list", "events", "read", False, ("namespace",)),
    "list_deployments": _ToolFacts("list", "deployments", "read", False, ("namespace",)),
    "list_services": _ToolFacts("list", "services", "read", False, ("namespace",)),
    "list_nodes": _ToolFacts("list", "nodes", "read", False, ()),
    "workload_health": _ToolFacts("get", "deployments", "read", False, ("name",)),
    "get_secret": _ToolFacts("get", "secrets", "read", False, ("secret",)),  # no such tool: for explaining the deny
    "audit": _ToolFacts("audit", "audit", "read", False, ()),
}

SLASH: dict[str, str] = {
    "scale": "scale_deployment",
    "scale-sts": "scale_statefulset",
    "restart": "restart_deployment",
    "rollback": "rollback_deployment",
    "delete-pod": "delete_pod",
    "delete": "delete_pod",
    "cordon": "cordon_node",
    "uncordon": "uncordon_node",
    "pods": "list_pods",
    "pod": "describe_pod",
    "describe": "describe_pod",
    "health": "workload_health",
    "overview": "cluster_overview",
    "services": "list_services",
    "namespaces": "list_namespaces",
    "logs": "pod_logs",
    "deployments": "list_deployments",
    "events": "list_events",
    "nodes": "list_nodes",
    "secret": "get_secret",
    "audit": "audit",
}


def parse_request(request: str) -> CallFacts:
    """`/scale cart 3 -n dev`, `/scale dev/cart 3`, `/delete pod web-1 -n production`, or
    `tool_name key=value ...` (the bot's slash syntax, plus `ns/name`). Raises ValueError."""
    words = shlex.split(request)
    if not words:
        raise ValueError("empty request")
    head, rest = words[0].lstrip("/"), words[1:]
    tool = SLASH.get(head, head)
    facts = BUILTIN.get(tool)
    if facts is None:
        known = ", ".join(sorted({f"/{k}" for k in SLASH}))
        raise ValueError(f"unknown command or tool {words[0]!r}; known: {known}")
    if head == "delete" and rest[:1] == ["pod"]:
        rest = rest[1:]
    args: dict[str, str] = {}
    positional = []
    flags = {"-n": "namespace", "--namespace": "namespace", "--cluster": "cluster", "--context": "cluster"}
    it = iter(rest)
    for w in it:
        if w in flags:
            args[flags[w]] = next(it, "")
        elif w.startswith("-"):
            continue  # --previous, --tail N ... do not change the decision
        elif "=" in w:
            k, _, v = w.partition("=")
            args[k.lstrip("-")] = v
        else:
            positional.append(w)
    if positional and "/" in positional[0]:
        ns, _, name = positional.pop(0).partition("/")
        args.setdefault("namespace", ns)
        if facts.params:
            args.setdefault(facts.params[0], name)
    for slot, value in zip((p for p in facts.params if p not in args), positional, strict=False):
        args[slot] = value
    return CallFacts(
        tool=tool,
        verb=facts.verb,
        resource=facts.resource,
        cluster=args.get("cluster", "default"),
        namespace="" if facts.resource == "nodes" else args.get("namespace", ""),
        risk=facts.risk,
        mutates=facts.mutates,
    )


def _files(files: Sequence[Path]) -> list[Path]:
    if files:
        return list(files)
    from bot.settings import data_dir, load_settings

    configured = load_settings().policy_files
    return [Path(f) for f in configured] if configured else [data_dir("policies") / "default.yaml"]


def check(files: Sequence[Path], *, out: TextIO | None = None, vocabulary: Vocabulary | None = None) -> int:
    """Validate each file, then all of them together. Prints `file:line: reason` per problem; 0 if clean."""
    out = out or sys.stdout
    paths = _files(files)
    problems = 0
    for f in paths:
        try:
            load_policy([f], vocabulary=vocabulary)
        except PolicyError as e:
            # A reference to a role/group defined in another file is fine once all files are merged.
            if len(paths) > 1 and e.reason.startswith("unknown "):
                continue
            print(f"{e.file}:{e.line}: {e.reason}", file=out)
            problems += 1
    if not problems:
        try:
            policy = load_policy(paths, vocabulary=vocabulary)
        except PolicyError as e:
            print(f"{e.file}:{e.line}: {e.reason}", file=out)
            return 1
        print(
            f"OK: {len(paths)} file(s), {len(policy.roles)} role(s), {len(policy.bindings)} binding(s), "
            f"{len(policy.deny)} deny rule(s), {len(policy.approvals)} approval rule(s)",
            file=out,
        )
        return 0
    return 1


def _decision(policy: Policy, user: str, chat: str, facts: CallFacts) -> Decision:
    """What the bot does: the files' decision, except that Secrets are never readable (the gate's built-in rule),
    so `explain` never says ALLOW for a request the bot would refuse."""
    if facts.resource == "secrets" and not facts.mutates:
        return Decision(
            Effect.DENY,
            "builtin:no-secrets",
            Why.DENIED_BY_RULE,
            "Secrets are never readable through KubeDuty, whatever the policy files say",
            roles=roles_of(policy, user, chat),
        )
    return decide(policy, user, chat, facts)


def describe(policy: Policy, user: str, chat: str, facts: CallFacts) -> list[str]:
    d = _decision(policy, user, chat, facts)
    lines = [
        f"request:  {facts.tool} (verb {facts.verb}, resource {facts.resource}, risk {facts.risk}, "
        f"namespace {facts.namespace or '-'}, cluster {facts.cluster})",
        f"subject:  {user} in chat {chat}; roles here: {', '.join(roles_of(policy, user, chat)) or '(none)'}",
        f"decision: {d.effect.value.upper()}",
        f"rule:     {d.rule or '(no rule matched)'}",
        f"reason:   {d.reason}",
    ]
    if d.effect is Effect.APPROVAL:
        lines.append(f"approval: {d.required_approvals} x {' / '.join(d.approvers)} (never the requester)")
    imp = impersonation_for(policy, user)
    if imp is not None:
        lines.append(f"runs as:  {imp.user} groups {', '.join(imp.groups) or '-'} ({imp.where})")
    return lines


def explain(
    *,
    request: str,
    user: str,
    chat: str,
    files: Sequence[Path],
    out: TextIO | None = None,
    vocabulary: Vocabulary | None = None,
) -> int:
    """Print the decision for `request` by `user` in `chat`. 0 = allow, 1 = deny, 2 = bad input, 3 = approval."""
    out = out or sys.stdout
    try:
        policy = load_policy(_files(files), vocabulary=vocabulary)
    except PolicyError as e:  # refused, never explained: a file with an unknown name could say ALLOW wrongly
        print(f"{e.file}:{e.line}: {e.reason}", file=out)
        return 2
    try:
        facts = parse_request(request)
    except ValueError as exc:
        print(f"cannot read the request: {exc}", file=out)
        return 2
    for line in describe(policy, user, chat, facts):
        print(line, file=out)
    effect = _decision(policy, user, chat, facts).effect
    return {Effect.ALLOW: 0, Effect.DENY: 1, Effect.APPROVAL: 3}[effect]
