"""RBAC authorization with the real semantics, evaluated from the stored Role/ClusterRole/(Cluster)RoleBinding objects.

A rule allows a request when its verbs, apiGroups, resources (`pods`, `pods/log`, `*`, `*/scale`, `pods/*`) and
resourceNames all match; non-resource rules match paths exactly or by a trailing `*`. ClusterRoleBindings grant
everywhere; RoleBindings only in their namespace (referring to a Role there or to a ClusterRole). No
aggregation, no escalation checks on writes to RBAC objects (the sandbox trusts whoever may write them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.sandbox.auth import SA_PREFIX, UserInfo
from tools.sandbox.errors import ApiError

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]


@dataclass(frozen=True)
class Attributes:
    """What a request does, as the authorizer sees it (the real `authorizer.Attributes`)."""

    verb: str
    namespace: str = ""
    group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True


def _subject_matches(subject: Obj, user: UserInfo, binding_ns: str) -> bool:
    kind = subject.get("kind")
    name = str(subject.get("name") or "")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = str(subject.get("namespace") or binding_ns)
        return user.name == f"{SA_PREFIX}{ns}:{name}"
    return False


def _has(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def _resource_matches(resources: Any, resource: str, sub: str) -> bool:
    if not isinstance(resources, list):
        return False
    combined = f"{resource}/{sub}" if sub else resource
    for r in resources:
        if r == "*" or r == combined:
            return True
        if sub and (r == f"*/{sub}" or r == f"{resource}/*"):
            return True
    return False


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url[:-1])):
                return True
        return False
    if not _has(rule.get("apiGroups"), attrs.group):
        return False
    if not _resource_matches(rule.get("resources"), attrs.resource, attrs.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def rules_for(cluster: Cluster, user: UserInfo, namespace: str) -> Iterator[Obj]:
    """Every rule that applies to `user` in `namespace` ("" = cluster-wide bindings only)."""
    for crb in cluster.objects("clusterrolebindings"):
        if any(_subject_matches(s, user, "") for s in crb.get("subjects") or []):
            yield from _role_rules(cluster, crb.get("roleRef") or {}, "")
    if namespace:
        for rb in cluster.objects("rolebindings", namespace):
            if any(_subject_matches(s, user, namespace) for s in rb.get("subjects") or []):
                yield from _role_rules(cluster, rb.get("roleRef") or {}, namespace)


def _role_rules(cluster: Cluster, ref: Obj, namespace: str) -> list[Obj]:
    if ref.get("kind") == "ClusterRole":
        role = cluster.peek("clusterroles", None, str(ref.get("name") or ""))
    elif ref.get("kind") == "Role" and namespace:
        role = cluster.peek("roles", namespace, str(ref.get("name") or ""))
    else:
        role = None
    rules = (role or {}).get("rules") or []
    return [r for r in rules if isinstance(r, dict)]


def allowed(cluster: Cluster, user: UserInfo, attrs: Attributes) -> bool:
    with cluster.lock:
        return any(rule_allows(rule, attrs) for rule in rules_for(cluster, user, attrs.namespace))


def forbidden(user: UserInfo, attrs: Attributes) -> ApiError:
    """A 403 Status worded exactly as the real server words it."""
    if not attrs.resource_request:
        return ApiError(403, "Forbidden", f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"')
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    head = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    message = (
        f'{head} is forbidden: User "{user.name}" cannot {attrs.verb} resource "{resource}" '
        f'in API group "{attrs.group}" {scope}'
    )
    details: Obj = {"kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.group:
        details["group"] = attrs.group
    return ApiError(403, "Forbidden", message, details)


def authorize(cluster: Cluster, user: UserInfo, attrs: Attributes) -> None:
    if not allowed(cluster, user, attrs):
        raise forbidden(user, attrs)


def impersonate(cluster: Cluster, actor: UserInfo, user: str | None, groups: list[str], uid: str | None) -> UserInfo:
    """Check the `impersonate` verb for each part asked for, then act as the result (real server's rules)."""
    from tools.sandbox.auth import with_implicit_groups

    if not user:
        if groups or uid:
            raise ApiError(
                500,
                "InternalError",
                "Internal error occurred: requested [" + ", ".join(groups) + "] without impersonating a user",
            )
        return actor
    if user.startswith(SA_PREFIX):
        ns, _, name = user[len(SA_PREFIX) :].partition(":")
        checks = [Attributes("impersonate", ns, "", "serviceaccounts", "", name)]
    else:
        checks = [Attributes("impersonate", "", "", "users", "", user)]
    checks += [Attributes("impersonate", "", "", "groups", "", g) for g in groups]
    if uid:
        checks.append(Attributes("impersonate", "", "authentication.k8s.io", "uids", "", uid))
    for attrs in checks:
        if not allowed(cluster, actor, attrs):
            raise forbidden(actor, attrs)
    info = with_implicit_groups(user, tuple(groups))
    return UserInfo(info.name, info.groups, uid or "")
