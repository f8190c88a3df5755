"""Load policy YAML files, validate them against a schema, and report problems with file, LINE and reason.

YAML is composed into nodes (which keep their marks) and converted by hand, so every value's line is known;
jsonschema errors are mapped back to the line of the offending value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bot.policy.model import (
    RISK_ORDER,
    ApprovalRule,
    Binding,
    DenyRule,
    Impersonation,
    Match,
    Policy,
    Role,
    Rule,
)
from bot.policy.schema import SCHEMA
from bot.policy.vocabulary import DEFAULT, Vocabulary

MAX_FILE_BYTES = 1_000_000  # policy files are small; a huge one is a mistake

PathKey = tuple[str | int, ...]


class PolicyError(Exception):
    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


def _convert(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise PolicyError(file, knode.start_mark.line + 1, "keys must be plain strings")
            key = str(knode.value)
            if key in out:
                raise PolicyError(file, knode.start_mark.line + 1, f"duplicate key {key!r}")
            out[key] = _convert(vnode, (*path, key), lines, file)
            lines[(*path, key)] = knode.start_mark.line + 1  # errors about a key's value point at the key
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, (*path, i), lines, file) for i, v in enumerate(node.value)]
    # Scalars: the safe loader's own resolution (int, bool, null, float, str).
    return yaml.constructor.SafeConstructor().construct_object(node)


def _line(lines: dict[PathKey, int], path: Iterable[str | int]) -> int:
    p = tuple(path)
    while p and p not in lines:
        p = p[:-1]
    return lines.get(p, 1)


def _read(file: Path) -> tuple[dict[str, Any], dict[PathKey, int]]:
    name = str(file)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise PolicyError(name, 1, f"file is larger than {MAX_FILE_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(name, 0, f"cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(name, 1, "the file is not UTF-8 text") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PolicyError(name, (mark.line + 1) if mark else 1, f"YAML syntax: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(name, 1, f"YAML: {exc}") from exc
    if node is None:
        raise PolicyError(name, 1, "the file is empty")
    lines: dict[PathKey, int] = {}
    doc = _convert(node, (), lines, name)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(doc), key=lambda e: _line(lines, e.absolute_path))
    if errors:
        err = errors[0]
        # For anyOf/oneOf the most specific sub-error reads better than "is not valid under any".
        best = jsonschema.exceptions.best_match([err]) or err
        path = tuple(best.absolute_path)
        if best.validator == "additionalProperties" and isinstance(best.instance, dict):
            # point at the unexpected key itself, not at its parent object
            allowed = best.schema.get("properties", {}) if isinstance(best.schema, dict) else {}
            extra = [k for k in best.instance if k not in allowed]
            if extra:
                path = (*path, extra[0])
        where = "/".join(str(p) for p in best.absolute_path) or "(top level)"
        raise PolicyError(name, _line(lines, path), f"{where}: {best.message}")
    return doc, lines


def _t(v: Any) -> tuple[str, ...]:
    return tuple(v) if isinstance(v, list) else (str(v),)


def _match(d: dict[str, Any]) -> Match:
    return Match(
        verbs=_t(d.get("verbs", ["*"])),
        tools=_t(d.get("tools", ["*"])),
        resources=_t(d.get("resources", ["*"])),
        namespaces=_t(d.get("namespaces", ["*"])),
        clusters=_t(d.get("clusters", ["*"])),
        risks=_t(d.get("risks", ["*"])),
    )


_NAMED = (("verbs", "verb"), ("resources", "resource"), ("tools", "tool"))


def _check_names(
    vocabulary: Vocabulary, file: str, lines: dict[PathKey, int], path: PathKey, d: dict[str, Any]
) -> None:
    """Every verb, resource, tool and risk of one rule names something that exists: fail closed on a typo."""
    where = "/".join(str(p) for p in path)
    for key, kind in _NAMED:
        for j, value in enumerate(d.get(key, [])):
            problem = vocabulary.problem(kind, str(value))
            if problem is not None:
                raise PolicyError(file, _line(lines, (*path, key, j)), f"{where}: {problem}")
    for j, value in enumerate(d.get("risks", [])):
        risk = str(value).removeprefix("!")
        if risk != "*" and risk not in RISK_ORDER:
            raise PolicyError(
                file,
                _line(lines, (*path, "risks", j)),
                f"{where}: unknown risk {value!r} (use {', '.join(RISK_ORDER)})",
            )


class _Builder:
    def __init__(self, vocabulary: Vocabulary = DEFAULT) -> None:
        self.vocabulary = vocabulary
        self.groups: dict[str, tuple[str, ...]] = {}
        self.chat_groups: dict[str, tuple[str, ...]] = {}
        self.roles: dict[str, Role] = {}
        self.bindings: list[Binding] = []
        self.deny: list[DenyRule] = []
        self.approvals: list[ApprovalRule] = []
        self.impersonation: list[Impersonation] = []
        # references to check once every file is read: (file, line, kind, name)
        self.refs: list[tuple[str, int, str, str]] = []
        self.defined_at: dict[tuple[str, str], str] = {}

    def _define(self, kind: str, key: str, file: str, line: int) -> None:
        if (kind, key) in self.defined_at:
            raise PolicyError(file, line, f"{kind} {key!r} is already defined at {self.defined_at[(kind, key)]}")
        self.defined_at[(kind, key)] = f"{file}:{line}"

    def _subject_refs(self, file: str, line: int, kind: str, items: Iterable[str]) -> None:
        for s in items:
            if s.startswith("group:"):
                self.refs.append((file, line, kind, s[len("group:") :]))

    def add(self, file: str, doc: dict[str, Any], lines: dict[PathKey, int]) -> None:
        for name, members in doc.get("groups", {}).items():
            line = _line(lines, ("groups", name))
            self._define("group", name, file, line)
            self.groups[name] = _t(members)
        for name, members in doc.get("chat_groups", {}).items():
            line = _line(lines, ("chat_groups", name))
            self._define("chat group", name, file, line)
            self.chat_groups[name] = _t(members)
        for name, body in doc.get("roles", {}).items():
            line = _line(lines, ("roles", name))
            self._define("role", name, file, line)
            rules = []
            for i, r in enumerate(body["rules"]):
                _check_names(self.vocabulary, file, lines, ("roles", name, "rules", i), r)
                rline = _line(lines, ("roles", name, "rules", i))
                rules.append(Rule(r.get("name", f"{name}#{i + 1}"), _match(r), f"{file}:{rline}"))
            self.roles[name] = Role(name, tuple(rules), body.get("description", ""), f"{file}:{line}")
        for i, b in enumerate(doc.get("bindings", [])):
            line = _line(lines, ("bindings", i))
            roles = _t(b["roles"]) if "roles" in b else (b["role"],)
            for r in roles:
                self.refs.append((file, line, "role", r))
            self._subject_refs(file, line, "group", b["subjects"])
            self._subject_refs(file, line, "chat group", b["chats"])
            name = b.get("name", f"binding#{i + 1}")
            self.bindings.append(Binding(name, roles, _t(b["subjects"]), _t(b["chats"]), f"{file}:{line}"))
        for i, d in enumerate(doc.get("deny", [])):
            _check_names(self.vocabulary, file, lines, ("deny", i), d)
            line = _line(lines, ("deny", i))
            self._subject_refs(file, line, "group", d.get("subjects", []))
            self._subject_refs(file, line, "chat group", d.get("chats", []))
            self.deny.append(
                DenyRule(
                    d.get("name", f"deny#{i + 1}"),
                    _match(d),
                    _t(d.get("subjects", ["*"])),
                    _t(d.get("chats", ["*"])),
                    f"{file}:{line}",
                )
            )
        for i, a in enumerate(doc.get("approvals", [])):
            _check_names(self.vocabulary, file, lines, ("approvals", i), a)
            line = _line(lines, ("approvals", i))
            for r in a["approvers"]:
                self.refs.append((file, line, "role", r))
            self.approvals.append(
                ApprovalRule(
                    a.get("name", f"approval#{i + 1}"),
                    _match(a),
                    _t(a["approvers"]),
                    int(a.get("count", 1)),
                    f"{file}:{line}",
                )
            )
        for i, m in enumerate(doc.get("impersonation", [])):
            line = _line(lines, ("impersonation", i))
            self._subject_refs(file, line, "group", m["subjects"])
            self.impersonation.append(
                Impersonation(_t(m["subjects"]), m["user"], _t(m.get("groups", [])), f"{file}:{line}")
            )

    def build(self, files: Sequence[str]) -> Policy:
        known: dict[str, set[str]] = {
            "role": set(self.roles),
            "group": set(self.groups),
            "chat group": set(self.chat_groups),
        }
        for file, line, kind, name in self.refs:
            if name not in known[kind]:
                raise PolicyError(file, line, f"unknown {kind} {name!r}")
        return Policy(
            groups=self.groups,
            chat_groups=self.chat_groups,
            roles=self.roles,
            bindings=tuple(self.bindings),
            deny=tuple(self.deny),
            approvals=tuple(self.approvals),
            impersonation=tuple(self.impersonation),
            files=tuple(files),
        )


def load_policy(paths: Sequence[str | Path], *, vocabulary: Vocabulary | None = None) -> Policy:
    """Read and merge policy files (a directory means its `*.yaml` files). Raises `PolicyError`, also for a
    verb, resource, tool or risk that `vocabulary` (default: the built-in names) does not know."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        else:
            files.append(p)
    if not files:
        raise PolicyError("(none)", 0, "no policy files given")
    b = _Builder(vocabulary or DEFAULT)
    for f in files:
        doc, lines = _read(f)
        b.add(str(f), doc, lines)
    return b.build([str(f) for f in files])
