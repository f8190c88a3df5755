"""Who is asking: bearer tokens and client certificates, from a small users file; impersonation headers.

The users file (YAML) lists `users: [{name, token, groups}]`; `tools/sandbox/users.yaml` is the default. Every
authenticated identity also gets `system:authenticated` (and service accounts their two groups), as the real
server adds them. A request with no credentials is `system:anonymous` (group `system:unauthenticated`), which
RBAC then refuses almost everything; an unknown token is 401 Unauthorized.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.sandbox.errors import ApiError

DEFAULT_USERS_FILE = Path(__file__).with_name("users.yaml")
ADMIN_TOKEN = "sandbox-token"  # the default kubeconfig's credentials: user sandbox-admin, group system:masters
AUTHENTICATED = "system:authenticated"
ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def with_implicit_groups(name: str, groups: tuple[str, ...]) -> UserInfo:
    """The groups the real authenticators add: service-account groups, then system:authenticated."""
    out = list(groups)
    if name.startswith(SA_PREFIX):
        ns = name[len(SA_PREFIX) :].split(":", 1)[0]
        out += ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    if name != ANONYMOUS and AUTHENTICATED not in out:
        out.append(AUTHENTICATED)
    return UserInfo(name, tuple(dict.fromkeys(out)))


def load_users(path: Path | None = None) -> dict[str, UserInfo]:
    """token -> identity from a users file."""
    doc = yaml.safe_load((path or DEFAULT_USERS_FILE).read_text(encoding="utf-8")) or {}
    tokens: dict[str, UserInfo] = {}
    for entry in doc.get("users") or []:
        name = str(entry["name"])
        groups = tuple(str(g) for g in entry.get("groups") or ())
        for token in [entry.get("token"), *(entry.get("tokens") or [])]:
            if token:
                tokens[str(token)] = with_implicit_groups(name, groups)
    return tokens


class Authenticator:
    """Thread-safe token table: tests rotate credentials with `set_token` / `revoke`."""

    def __init__(self, users_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._tokens = load_users(users_file)

    def set_token(self, token: str, user: str, groups: tuple[str, ...] = ()) -> None:
        with self._lock:
            self._tokens[token] = with_implicit_groups(user, groups)

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def token_for(self, user: str) -> str | None:
        with self._lock:
            return next((t for t, u in self._tokens.items() if u.name == user), None)

    def authenticate(self, authorization: str | None, peer: tuple[str, tuple[str, ...]] | None) -> UserInfo:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorized()
            with self._lock:
                found = self._tokens.get(token.strip())
            if found is None:
                raise unauthorized()
            return found
        if peer is not None:
            return with_implicit_groups(peer[0], peer[1])
        return UserInfo(ANONYMOUS, (UNAUTHENTICATED,))
