"""Slot filling by parameter MEANING: which listing offers the choices for a parameter, and how a typed answer
matches the options offered. Pure; the engine does the I/O.

Meanings come from parameter names (`namespace`, `pod`, `deployment`, `statefulset`, `container`, `node`,
`cluster`), and for a generic `name` from the tool's resource (`pods_get` -> pods), so external MCP tools get
the same help as ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.conversation.parser import STOP, name_tokens, normalize, ordinal
from bot.tooling.types import ToolCall, ToolInfo

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

MEANINGS = ("cluster", "namespace", "node", "deployment", "statefulset", "pod", "container")
_RESOURCE_MEANING = {
    "pods": "pod",
    "pod": "pod",
    "deployments": "deployment",
    "deployment": "deployment",
    "statefulsets": "statefulset",
    "statefulset": "statefulset",
    "nodes": "node",
    "node": "node",
    "namespaces": "namespace",
    "namespace": "namespace",
}
# Parameters whose value is the user's own words, not a name to pick (workload_health's name prefix).
FREE_HINT_PARAMS = {("workload_health", "name"), ("list_pods", "name_filter"), ("list_events", "object_name")}
# What the engine asks first: cluster before namespace before objects inside it.
ORDER = {
    "cluster": 0,
    "namespace": 1,
    "node": 2,
    "deployment": 3,
    "statefulset": 3,
    "pod": 3,
    "name": 3,
    "container": 4,
}


def resource_of(info: ToolInfo) -> str:
    if info.resource:
        return info.resource.lower()
    head = re.split(r"[_\-.]", info.name.split("__")[-1].split(":")[-1])[0].lower()
    return head


def meaning(info: ToolInfo, param: str) -> str | None:
    if param in MEANINGS:
        return param
    if (info.name, param) in FREE_HINT_PARAMS:
        return None
    if param in ("name", "resource_name", "object_name"):
        return _RESOURCE_MEANING.get(resource_of(info))
    if param in ("pod_name", "podname"):
        return "pod"
    if param in ("deployment_name",):
        return "deployment"
    if param in ("node_name", "nodename"):
        return "node"
    return None


def is_integer(info: ToolInfo, param: str) -> bool:
    spec = info.properties.get(param, {})
    if spec.get("type") == "integer":
        return True
    return any(isinstance(a, dict) and a.get("type") == "integer" for a in spec.get("anyOf", ()))


def missing(info: ToolInfo, args: dict[str, Any]) -> list[str]:
    """Required parameters without a value, in asking order."""
    need = [p for p in info.required if args.get(p) in (None, "")]
    return sorted(need, key=lambda p: ORDER.get(p, 5))


def source(what: str, args: dict[str, Any], hint: str | None = None) -> ToolCall | None:
    """The listing that offers choices for a meaning, given the args filled so far."""
    base: dict[str, Any] = {"cluster": args["cluster"]} if args.get("cluster") else {}
    ns = args.get("namespace")
    if what == "cluster":
        return ToolCall("list_clusters", {})
    if what == "namespace":
        return ToolCall("list_namespaces", base)
    if what == "node":
        return ToolCall("list_nodes", base)
    if what == "deployment":
        return ToolCall("list_deployments", {**base, **({"namespace": ns} if ns else {})})
    if what in ("pod", "statefulset"):
        extra: dict[str, Any] = {"namespace": ns} if ns else {}
        if hint and what == "pod":
            extra["name_filter"] = hint
        return ToolCall("list_pods", {**base, **extra})
    if what == "container" and ns and args.get("pod"):
        return ToolCall("describe_pod", {**base, "namespace": ns, "pod": args["pod"]})
    return None


def extract(what: str, data: dict[str, Any] | None) -> list[str]:
    """Names out of a listing result (the result models' JSON)."""
    if not isinstance(data, dict):
        return []
    if what == "container":
        return [str(c.get("name")) for c in data.get("containers", []) if isinstance(c, dict) and c.get("name")]
    items = [i for i in data.get("items", []) if isinstance(i, dict)]
    if what == "statefulset":
        out: list[str] = []
        for i in items:
            owner = str(i.get("workload") or "")
            if (str(i.get("owner") or "")).startswith("StatefulSet/"):
                owner = owner or str(i.get("owner")).split("/", 1)[1]
                if owner and owner not in out:
                    out.append(owner)
        return out
    return [str(i["name"]) for i in items if i.get("name")]


def namespaces_of(data: dict[str, Any] | None) -> list[str]:
    """Distinct namespaces of a listing's items, in order."""
    out: list[str] = []
    for i in (data or {}).get("items", []):
        ns = i.get("namespace") if isinstance(i, dict) else None
        if ns and ns not in out:
            out.append(str(ns))
    return out


def filter_hint(options: list[str], hint: str | None) -> list[str]:
    if not hint:
        return list(options)
    h = hint.lower()
    return [o for o in options if h in o.lower()]


def valid_name(what: str | None, value: str) -> bool:
    if what in ("namespace",):
        return len(value) <= 63 and bool(DNS1123_LABEL.match(value))
    if what in ("pod", "deployment", "statefulset", "node", "container"):
        return len(value) <= 253 and bool(DNS1123_SUBDOMAIN.match(value))
    return True


@dataclass(frozen=True)
class Match:
    value: str | None = None  # the option the user meant
    ambiguous: tuple[str, ...] = ()  # several options fit
    word: str | None = None  # the name-like word the user typed, when nothing matched


def match_answer(text: str, options: list[str], *, exact_only: bool) -> Match:
    """Which offered option a typed answer means: an ordinal ("第二个", "the second one"), an exact name, or
    (reads only) a unique fragment ("v2 那个", "应该在 dev")."""
    t = normalize(text)
    n = ordinal(text)
    if n is not None and options and (n == -1 or 1 <= n <= len(options)):
        return Match(options[n - 1] if n > 0 else options[-1])
    lowered = {o.lower(): o for o in options}
    if t in lowered:
        return Match(lowered[t])
    if t.isdigit() and 1 <= int(t) <= len(options):  # a bare "2" typed in a chat: the second button shown
        return Match(options[int(t) - 1])
    words = [w for w in re.findall(r"[a-z0-9][a-z0-9.\-]*", t)]
    exact = [lowered[w] for w in words if w in lowered]
    if len(set(exact)) == 1:
        return Match(exact[0])
    tokens = name_tokens(text)
    if exact_only:
        return Match(word=tokens[0] if tokens else None)
    for tok in tokens:
        hits = [o for o in options if tok in o.lower()]
        if len(hits) == 1:
            return Match(hits[0])
        if len(hits) > 1:
            return Match(ambiguous=tuple(hits), word=tok)
    # A short token like "v2" is a stop-word-free fragment too; fall back to any word not in STOP.
    for w in words:
        if w in STOP or w.isdigit():
            continue
        hits = [o for o in options if w in o.lower()]
        if len(hits) == 1:
            return Match(hits[0])
    return Match(word=tokens[0] if tokens else None)
