"""The names a policy file may use: tools, verbs, resources. A name outside them is an error, never a rule that
silently matches nothing (a deny rule with `verbs: [delte]` would otherwise deny nothing: fail open).

Pure data. The composition root passes the real vocabulary (the catalogue's tools and the configured MCP
servers' declared tools, see `bot.app.policy_vocabulary`); `DEFAULT` is the built-in part, used when a caller
gives none, so a typo is refused everywhere.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

# The built-in tools (tools/catalogue.py, which policy may not import: a test keeps this list equal to it) and
# the bot's own pseudo-tool `audit`.
BUILTIN_TOOLS = frozenset(
    {
        "list_clusters",
        "cluster_overview",
        "list_namespaces",
        "list_pods",
        "pod_logs",
        "describe_pod",
        "list_events",
        "list_deployments",
        "list_services",
        "list_nodes",
        "workload_health",
        "scale_deployment",
        "scale_statefulset",
        "restart_deployment",
        "rollback_deployment",
        "delete_pod",
        "cordon_node",
        "uncordon_node",
        "set_container_resources",
        "audit",
    }
)

# Verbs a call can carry: the catalogue's, Kubernetes' own, the ones external MCP tools are given (named in
# bot.tooling.mcp_source `_VERBS`, plus `call`/`get` for unnamed ones), `invoke` (a mutating tool that calls
# itself a read, see engine.normalise), `audit`, and the alert actions' `silence`.
KNOWN_VERBS = frozenset(
    {
        "get", "list", "watch", "logs", "describe", "diagnose", "top", "read", "explain",
        "create", "apply", "update", "patch", "delete", "deletecollection",
        "scale", "restart", "rollback", "cordon", "uncordon", "drain", "evict",
        "exec", "run", "install", "uninstall", "upgrade", "call", "invoke", "audit", "silence",
    }
)  # fmt: skip

# Resources, plural as the catalogue and the API name them, plus `audit`, `alerts` and the MCP tools' own.
KNOWN_RESOURCES = frozenset(
    {
        "pods", "pods/log", "pods/exec", "deployments", "statefulsets", "daemonsets", "replicasets", "services",
        "endpoints", "nodes", "namespaces", "events", "configmaps", "secrets", "serviceaccounts", "jobs",
        "cronjobs", "ingresses", "networkpolicies", "persistentvolumeclaims", "persistentvolumes",
        "storageclasses", "horizontalpodautoscalers", "poddisruptionbudgets", "roles", "rolebindings",
        "clusterroles", "clusterrolebindings", "customresourcedefinitions", "helm", "contexts", "configuration",
        "clusters", "audit", "alerts",
    }
)  # fmt: skip

# Families of tools created at run time (alert actions are `alert_<verb>`): any name under them is known.
TOOL_FAMILIES = ("alert_",)

_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    tools: frozenset[str] = BUILTIN_TOOLS
    verbs: frozenset[str] = KNOWN_VERBS
    resources: frozenset[str] = KNOWN_RESOURCES
    # Prefixes of external MCP servers: a glob under one (`k8smcp_*`) is fine even before the server answers.
    tool_prefixes: tuple[str, ...] = ()
    tool_families: tuple[str, ...] = field(default=TOOL_FAMILIES)

    def merged(
        self,
        *,
        tools: frozenset[str] | set[str] = frozenset(),
        verbs: frozenset[str] | set[str] = frozenset(),
        resources: frozenset[str] | set[str] = frozenset(),
        tool_prefixes: tuple[str, ...] = (),
    ) -> Vocabulary:
        return Vocabulary(
            tools=self.tools | tools,
            verbs=self.verbs | verbs,
            resources=self.resources | resources,
            tool_prefixes=self.tool_prefixes + tool_prefixes,
            tool_families=self.tool_families,
        )

    def problem(self, kind: str, pattern: str) -> str | None:
        """Why `pattern` (a glob, maybe `!`-negated) names nothing of `kind` (verb|resource|tool), or None."""
        name = pattern[1:] if pattern.startswith("!") else pattern
        if name == "*":
            return None
        known = {"verb": self.verbs, "resource": self.resources, "tool": self.tools}[kind]
        if _GLOB & set(name):
            if any(fnmatchcase(k, name) for k in known):
                return None
            if kind == "tool" and any(
                fnmatchcase(p + "x", name) or name.startswith(p) for p in self.tool_prefixes + self.tool_families
            ):
                return None
            return f"{kind} pattern {pattern!r} matches no known {kind}{_hint(name, known)}"
        if name in known or (kind == "tool" and name.startswith(self.tool_families)):
            return None
        return f"unknown {kind} {pattern!r}{_hint(name, known)}"


def _hint(name: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


DEFAULT = Vocabulary()
