"""The server's access layer: who a request is (authentication, impersonation), what it does (the authorizer's
attributes from the URL), and the review APIs (`kubectl auth can-i`, `can-i --list`, `auth whoami`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.sandbox import rbac
from tools.sandbox.auth import Authenticator, UserInfo
from tools.sandbox.errors import ApiError, bad_request
from tools.sandbox.rbac import Attributes
from tools.sandbox.resources import ResourceType
from tools.sandbox.tls import identity_from_peercert

if TYPE_CHECKING:
    from aiohttp import web

    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]


def identify(request: web.Request, cluster: Cluster, authn: Authenticator) -> UserInfo:
    """Authenticate (401 for bad credentials), then honour Impersonate-* headers if the caller may (403)."""
    peer = None
    transport = request.transport
    if transport is not None:
        peer = identity_from_peercert(transport.get_extra_info("peercert"))
    user = authn.authenticate(request.headers.get("Authorization"), peer)
    as_user = request.headers.get("Impersonate-User")
    as_groups = request.headers.getall("Impersonate-Group", [])
    as_uid = request.headers.get("Impersonate-Uid")
    if as_user or as_groups or as_uid:
        user = rbac.impersonate(cluster, user, as_user, list(as_groups), as_uid)
    return user


def resource_verb(method: str, has_name: bool, watch: bool) -> str:
    if method in ("GET", "HEAD"):
        return "watch" if watch else ("get" if has_name else "list")
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(
        method, ("delete" if has_name else "deletecollection") if method == "DELETE" else method.lower()
    )


def _review_attrs(spec: Obj, namespace_override: str | None = None) -> Attributes:
    res = spec.get("resourceAttributes")
    if isinstance(res, dict):
        return Attributes(
            verb=str(res.get("verb") or ""),
            namespace=namespace_override if namespace_override is not None else str(res.get("namespace") or ""),
            group=str(res.get("group") or ""),
            resource=str(res.get("resource") or ""),
            subresource=str(res.get("subresource") or ""),
            name=str(res.get("name") or ""),
        )
    non = spec.get("nonResourceAttributes")
    if isinstance(non, dict):
        return Attributes(verb=str(non.get("verb") or ""), path=str(non.get("path") or ""), resource_request=False)
    raise ApiError(
        422,
        "Invalid",
        'SubjectAccessReview is invalid: spec.resourceAttributes: Invalid value: "null": '
        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
    )


def review(cluster: Cluster, rtype: ResourceType, namespace: str | None, body: Any, user: UserInfo) -> Obj:
    """Answer a review object (201 body): spec echoed, status filled in."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    raw_spec = body.get("spec")
    spec: Obj = raw_spec if isinstance(raw_spec, dict) else {}
    out: Obj = {
        "kind": rtype.kind,
        "apiVersion": rtype.api_version,
        "metadata": {"creationTimestamp": None},
        "spec": spec,
    }
    if rtype.kind == "SelfSubjectReview":
        out["status"] = {"userInfo": user.to_api()}
        out.pop("spec")
        return out
    if rtype.kind == "SelfSubjectRulesReview":
        out["status"] = rules_review(cluster, user, str(spec.get("namespace") or ""))
        return out
    subject = user
    if rtype.kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
        name = str(spec.get("user") or "")
        groups = tuple(str(g) for g in spec.get("groups") or ())
        if not name and not groups:
            raise ApiError(
                422,
                "Invalid",
                f'{rtype.kind}.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
                "at least one of user or group must be specified",
            )
        subject = UserInfo(name, groups, str(spec.get("uid") or ""))
    attrs = _review_attrs(spec, namespace if rtype.kind == "LocalSubjectAccessReview" else None)
    allowed = rbac.allowed(cluster, subject, attrs)
    out["status"] = {"allowed": allowed} if allowed else {"allowed": False, "reason": ""}
    if allowed:
        out["status"]["reason"] = "RBAC: allowed by a binding of the sandbox's RBAC objects"
    return out


def rules_review(cluster: Cluster, user: UserInfo, namespace: str) -> Obj:
    resource_rules: list[Obj] = []
    non_resource: list[Obj] = []
    with cluster.lock:
        for rule in rbac.rules_for(cluster, user, namespace):
            if rule.get("nonResourceURLs"):
                non_resource.append({"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]})
            else:
                entry: Obj = {
                    "verbs": rule.get("verbs") or [],
                    "apiGroups": rule.get("apiGroups") or [],
                    "resources": rule.get("resources") or [],
                }
                if rule.get("resourceNames"):
                    entry["resourceNames"] = rule["resourceNames"]
                resource_rules.append(entry)
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": False}
