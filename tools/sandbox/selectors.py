"""Label and field selectors, parsed once per request into predicates over raw objects."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tools.sandbox.resources import ResourceType

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]

_KEY = re.compile(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$")
_SET_TERM = re.compile(r"^\s*(\S+)\s+(in|notin)\s+\((.*)\)\s*$")


class SelectorError(ValueError):
    """A selector the real API server would reject with 400 BadRequest."""


@dataclass(frozen=True)
class _Req:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) in self.values
        if self.op == "in":
            return self.key in labels and labels[self.key] in self.values
        # "!=" and "notin" match objects without the key, as in Kubernetes.
        return labels.get(self.key) not in self.values


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside an `in (...)` value list."""
    terms: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return [t.strip() for t in terms if t.strip()]


def _check_key(key: str, raw: str) -> str:
    if not _KEY.match(key) or len(key.split("/")[-1]) > 63:
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r} in {raw!r}")
    return key


def parse_label_selector(text: str | None) -> Predicate | None:
    if not text or not text.strip():
        return None
    reqs: list[_Req] = []
    for term in _split_terms(text):
        m = _SET_TERM.match(term)
        if m:
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(_Req(_check_key(m.group(1), text), m.group(2), values))
        elif "!=" in term:
            k, v = term.split("!=", 1)
            reqs.append(_Req(_check_key(k.strip(), text), "!=", frozenset({v.strip()})))
        elif "==" in term or "=" in term:
            k, v = term.split("==", 1) if "==" in term else term.split("=", 1)
            reqs.append(_Req(_check_key(k.strip(), text), "=", frozenset({v.strip()})))
        elif term.startswith("!"):
            reqs.append(_Req(_check_key(term[1:].strip(), text), "!", frozenset()))
        elif " " in term or "(" in term or ")" in term:
            raise SelectorError(f"unable to parse requirement: found {term!r}, expected: in, notin, =, ==, !=")
        else:
            reqs.append(_Req(_check_key(term, text), "exists", frozenset()))

    def pred(obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return pred


def field_value(obj: Obj, path: str) -> str:
    """Field values compare as strings, as the API server's field sets do ("true", "" for absent)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if path == "source" and isinstance(cur, dict):
        return str(cur.get("component", ""))
    return str(cur)


def parse_field_selector(text: str | None, rtype: ResourceType) -> Predicate | None:
    if not text or not text.strip():
        return None
    reqs: list[tuple[str, bool, str]] = []
    for term in _split_terms(text):
        if "!=" in term:
            k, v = term.split("!=", 1)
            neg = True
        elif "==" in term:
            k, v = term.split("==", 1)
            neg = False
        elif "=" in term:
            k, v = term.split("=", 1)
            neg = False
        else:
            raise SelectorError(f"invalid selector: {text!r}; can't understand {term!r}")
        k = k.strip()
        if not rtype.supports_field(k):
            raise SelectorError(f"field label not supported: {k}")
        reqs.append((k, neg, v.strip()))

    def pred(obj: Obj) -> bool:
        for k, neg, v in reqs:
            if (field_value(obj, k) == v) == neg:
                return False
        return True

    return pred


def selector_from_match_labels(selector: Mapping[str, Any] | None) -> Predicate:
    """A workload's `spec.selector` (matchLabels and matchExpressions) as a predicate over pods."""
    sel = selector or {}
    match_labels: Mapping[str, str] = sel.get("matchLabels") or {}
    exprs: list[Mapping[str, Any]] = sel.get("matchExpressions") or []
    reqs = [_Req(k, "=", frozenset({v})) for k, v in match_labels.items()]
    op_map = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for e in exprs:
        reqs.append(
            _Req(str(e.get("key")), op_map.get(str(e.get("operator")), "exists"), frozenset(e.get("values") or []))
        )

    def pred(obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return pred
