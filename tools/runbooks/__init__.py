"""Runbooks: YAML files in this directory, each a typed remedy for a kind of alert, validated at load.

A runbook says what it matches (alert names, labels, diagnosis findings), its parameters (from alert labels or
defaults), risk, pre-checks (read tools), steps (typed tools only: never a shell), a verification (PromQL with a
condition and a timeout) and the way back. `kubeduty runbook check` prints each problem as `file:line: reason`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

RUNBOOK_DIR = Path(__file__).resolve().parent
SHELL_KEYS = frozenset({"shell", "sh", "bash", "command", "cmd", "script", "exec", "run", "kubectl"})
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


class Param(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str | None = Field(default=None, alias="from", pattern=r"^label\.[A-Za-z_][A-Za-z0-9_]*$")
    default: str | None = None


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str
    args: dict[str, str | int | bool] = Field(default_factory=dict)


class Verify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    promql: str | None = None
    condition: str = Field(default="== 0", pattern=r"^(==|!=|<|<=|>|>=) -?[0-9.]+$")
    timeout_seconds: int = Field(default=300, ge=10, le=3600)


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alerts: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    findings: list[str] = Field(default_factory=list)


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=_ID)
    title: Text
    description: Text | None = None
    risk: Literal["low", "medium", "high"]
    match: Match
    params: dict[str, Param] = Field(default_factory=dict)
    prechecks: list[Step] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
    verify: Verify
    rollback: list[Step] = Field(default_factory=list)
    approval: bool = True  # production runbooks go through the approval gate; a runbook cannot opt out of policy

    def matches(self, alertname: str, labels: Mapping[str, str], findings: Iterable[str] = ()) -> bool:
        if self.match.alerts and alertname not in self.match.alerts:
            found = set(findings)
            if not (self.match.findings and found & set(self.match.findings)):
                return False
        return all(labels.get(k) == v for k, v in self.match.labels.items())

    def bind(self, labels: Mapping[str, str]) -> dict[str, str] | None:
        """Parameter values from the alert's labels and defaults; None if a required one is missing."""
        out: dict[str, str] = {}
        for name, p in self.params.items():
            value = labels.get(p.source.split(".", 1)[1]) if p.source else None
            value = value or p.default
            if value is None:
                return None
            out[name] = value
        return out

    @staticmethod
    def fill(step: Step, values: Mapping[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in step.args.items():
            if not isinstance(v, str):
                out[k] = v
                continue
            filled = _PLACEHOLDER.sub(lambda m: values[m.group(1)], v)
            # a whole-value placeholder with a number (`replicas: '{replicas}'`) is a number: tools type-check
            whole = _PLACEHOLDER.fullmatch(v) is not None
            out[k] = int(filled) if whole and re.fullmatch(r"-?[0-9]{1,9}", filled) else filled
        return out


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def _lines(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each path in the document (keys and list indexes) to its 1-based line."""
    out = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = (*path, k.value)
            out[key] = k.start_mark.line + 1
            out.update({p: ln for p, ln in _lines(v, key).items() if p != key})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_lines(item, (*path, i)))
    return out


def _line_of(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


# libyaml's safe loader where the system has it: the demo loads every runbook before its first reply
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_file(path: Path, tools: Mapping[str, bool]) -> tuple[Runbook | None, list[Problem]]:
    """`tools`: name -> mutates. Returns the runbook (None if invalid) and every problem found."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_LOADER)
        doc = yaml.load(text, Loader=_LOADER)  # a safe loader (libyaml's when present)
    except OSError as exc:
        return None, [Problem(name, 1, f"cannot read: {exc.strerror}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [Problem(name, (mark.line + 1) if mark else 1, f"not YAML: {getattr(exc, 'problem', exc)}")]
    if node is None or not isinstance(doc, dict):
        return None, [Problem(name, 1, "a runbook is a YAML mapping")]
    lines = _lines(node)
    problems: list[Problem] = []
    for section in ("prechecks", "steps", "rollback"):
        for i, step in enumerate(doc.get(section) or []):
            if isinstance(step, dict):
                for key in step:
                    if str(key).lower() in SHELL_KEYS:
                        problems.append(
                            Problem(
                                name,
                                _line_of(lines, (section, i, key)),
                                f"{section}[{i}]: shell steps are not allowed ('{key}'); use a typed tool",
                            )
                        )
    try:
        rb = Runbook.model_validate(doc)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            where = ".".join(str(x) for x in loc)
            if any(str(x).lower() in SHELL_KEYS for x in loc):
                continue  # already reported as a shell step
            problems.append(Problem(name, _line_of(lines, loc), f"{where}: {err.get('msg')}"))
        return None, problems
    for section in ("prechecks", "steps", "rollback"):
        for i, step in enumerate(getattr(rb, section)):
            at = _line_of(lines, (section, i, "tool"))
            if step.tool not in tools:
                problems.append(Problem(name, at, f"{section}[{i}]: unknown tool '{step.tool}'"))
            elif section == "prechecks" and tools[step.tool]:
                problems.append(
                    Problem(name, at, f"prechecks[{i}]: '{step.tool}' changes the cluster; pre-checks read")
                )
            for key, value in step.args.items():
                for ref in _PLACEHOLDER.findall(value) if isinstance(value, str) else []:
                    if ref not in rb.params:
                        problems.append(
                            Problem(
                                name,
                                _line_of(lines, (section, i, "args", key)),
                                f"{section}[{i}].args.{key}: unknown parameter '{{{ref}}}'",
                            )
                        )
    if rb.verify.promql:
        for ref in _PLACEHOLDER.findall(rb.verify.promql):
            if ref not in rb.params:
                problems.append(
                    Problem(
                        name, _line_of(lines, ("verify", "promql")), f"verify.promql: unknown parameter '{{{ref}}}'"
                    )
                )
    return (rb if not problems else None), problems


def default_tools() -> dict[str, bool]:
    from tools.catalogue import CATALOGUE

    return {n: bool(s.mutates) for n, s in CATALOGUE.items()}


def load_runbooks(
    paths: Iterable[Path] | None = None, tools: Mapping[str, bool] | None = None
) -> tuple[list[Runbook], list[Problem]]:
    files = sorted(paths) if paths is not None else sorted(RUNBOOK_DIR.glob("*.yaml"))
    known = dict(tools) if tools is not None else default_tools()
    books: list[Runbook] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for f in files:
        rb, found = check_file(f, known)
        problems += found
        if rb is not None:
            if rb.id in seen:
                problems.append(Problem(str(f), 1, f"duplicate runbook id '{rb.id}' (also in {seen[rb.id]})"))
                continue
            seen[rb.id] = str(f)
            books.append(rb)
    return books, problems


def check(paths: list[Path]) -> int:
    """`kubeduty runbook check [FILES]`: 0 when every file is valid, 1 otherwise (each problem on stderr)."""
    import sys

    books, problems = load_runbooks(paths or None)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f"{len(books)} runbooks OK")
    return 0
