"""Which chats hear about an alert group, and how loudly: the routing file, declared as data.

```yaml
routes:                      # first match wins
  - name: orders
    match: {namespace: production}           # label equals value
    match_re: {alertname: "KubePod.*"}       # label matches the whole regex
    chats: [feishu:oc_xxx, dingtalk:cidXXX==]
    oncall:                                  # @-ed for P1; P0 @all and the urgent escalation goes to them
      - feishu:ou_alice
      - {id: "dingtalk:manager7675", name: 张三}   # a name shows next to the @ where the platform needs one
    lang: zh                                 # language of the cards (zh | en)
default:
  chats: [feishu:oc_platform]
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.i18n import Lang


class Priority(StrEnum):
    """P0 @all + the platform's urgent escalation, P1 @ the on-call people, P2 a plain card, P3 recorded only."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def notifies(self) -> bool:
        return self is not Priority.P3


# Alertmanager's usual `severity` values; a `priority: P0..P3` label on the alert wins over these.
SEVERITY_PRIORITY: Mapping[str, Priority] = {
    "emergency": Priority.P0,
    "disaster": Priority.P0,
    "page": Priority.P0,
    "critical": Priority.P1,
    "high": Priority.P1,
    "error": Priority.P1,
    "warning": Priority.P2,
    "medium": Priority.P2,
    "info": Priority.P3,
    "low": Priority.P3,
    "none": Priority.P3,
}


def priority_of(labels: Mapping[str, str]) -> Priority:
    explicit = labels.get("priority", "").upper()
    if explicit in Priority.__members__:
        return Priority(explicit)
    return SEVERITY_PRIORITY.get(labels.get("severity", "").lower(), Priority.P2)


_CHAT = re.compile(r"^(dingtalk|feishu|console):\S+$")
_ONCALL = re.compile(r"^(dingtalk|feishu|console):\S+( \S.{0,63})?$")


def oncall_entry(entry: str) -> tuple[str, str]:
    """(`platform:user_id`, display name) of an on-call entry; the name is the id when none was given."""
    subject, _, name = entry.partition(" ")
    return subject, name.strip() or subject.partition(":")[2]


class RouteSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    chats: list[str] = Field(default_factory=list)
    oncall: list[str] = Field(default_factory=list)
    lang: Lang = Lang.ZH
    priority: Priority | None = None

    @field_validator("chats")
    @classmethod
    def _chats(cls, chats: list[str]) -> list[str]:
        for chat in chats:
            if not _CHAT.match(chat):
                raise ValueError(f"chat {chat!r} is not platform:chat_id (dingtalk:…, feishu:…)")
        return chats

    @field_validator("oncall", mode="before")
    @classmethod
    def _oncall(cls, people: Any) -> Any:
        """`platform:user_id`, or {id, name}: kept as one string `platform:user_id name` (see `oncall_entry`)."""
        if not isinstance(people, list):
            return people
        out = []
        for person in people:
            if isinstance(person, dict) and set(person) <= {"id", "name"} and isinstance(person.get("id"), str):
                name = " ".join(str(person.get("name") or "").split())
                person = f"{person['id']} {name}".strip()
            if not isinstance(person, str) or not _ONCALL.match(person):
                raise ValueError(f"oncall {person!r} is not platform:user_id or {{id: platform:user_id, name: ...}}")
            out.append(person)
        return out

    @field_validator("match_re")
    @classmethod
    def _regexes(cls, patterns: dict[str, str]) -> dict[str, str]:
        for label, pattern in patterns.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match_re.{label}: {exc}") from exc
        return patterns


class RoutingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[RouteSpec] = Field(default_factory=list)
    default: RouteSpec = Field(default_factory=RouteSpec)


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    chats: tuple[str, ...]
    oncall: tuple[str, ...]
    lang: Lang
    priority: Priority


class RoutingError(Exception):
    pass


class Routing:
    def __init__(self, spec: RoutingSpec) -> None:
        self._spec = spec
        self._compiled = [(r, {k: re.compile(v) for k, v in r.match_re.items()}) for r in spec.routes]

    @classmethod
    def load(cls, path: str | Path) -> Routing:
        p = Path(path)
        try:
            doc: Any = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            return cls(RoutingSpec.model_validate(doc))
        except OSError as exc:
            raise RoutingError(f"{p}: cannot read: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise RoutingError(f"{p}: not YAML: {exc}") from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            raise RoutingError(f"{p}: {where}: {first.get('msg')}") from exc

    @classmethod
    def single(cls, chats: list[str], *, oncall: list[str] | None = None, lang: Lang = Lang.ZH) -> Routing:
        return cls(RoutingSpec(default=RouteSpec(name="default", chats=chats, oncall=oncall or [], lang=lang)))

    def route(self, labels: Mapping[str, str]) -> Route:
        """The first route whose equality and regex matchers all hold; else the default."""
        chosen = self._spec.default
        for spec, regexes in self._compiled:
            if all(labels.get(k) == v for k, v in spec.match.items()) and all(
                rx.fullmatch(labels.get(k, "")) for k, rx in regexes.items()
            ):
                chosen = spec
                break
        return Route(
            name=chosen.name or "default",
            chats=tuple(chosen.chats),
            oncall=tuple(chosen.oncall),
            lang=chosen.lang,
            priority=chosen.priority or priority_of(labels),
        )
