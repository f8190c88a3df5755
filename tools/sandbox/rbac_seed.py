"""The RBAC objects every sandbox starts with: the default ClusterRoles (written out, no aggregation) and the
bindings that give the users of users.yaml their rights. Declared as data in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io/v1"
_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_CORE_READ = [
    "configmaps",
    "endpoints",
    "persistentvolumeclaims",
    "persistentvolumeclaims/status",
    "pods",
    "pods/log",
    "pods/status",
    "replicationcontrollers",
    "serviceaccounts",
    "services",
    "services/status",
]
_APPS = ["daemonsets", "deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets"]
_APPS += ["statefulsets/scale", "controllerrevisions", "daemonsets/status", "deployments/status"]
_APPS += ["replicasets/status", "statefulsets/status"]
_BATCH = ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]
_NET = ["ingresses", "ingresses/status", "networkpolicies"]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> Obj:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _view_rules() -> list[Obj]:
    return [
        _rule([""], _CORE_READ, _READ),
        _rule([""], ["events", "namespaces", "namespaces/status", "resourcequotas", "limitranges"], _READ),
        _rule(["events.k8s.io"], ["events"], _READ),
        _rule(["apps"], _APPS, _READ),
        _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], _READ),
        _rule(["batch"], _BATCH, _READ),
        _rule(["networking.k8s.io"], _NET, _READ),
        _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
        _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _READ),
    ]


def _edit_rules() -> list[Obj]:
    writable_core = ["configmaps", "endpoints", "persistentvolumeclaims", "pods", "replicationcontrollers"]
    writable_core += ["secrets", "serviceaccounts", "services"]
    return [
        *_view_rules(),
        _rule([""], ["secrets"], _READ),
        _rule([""], writable_core, _WRITE),
        _rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "pods/eviction"], ["create", "get"]),
        _rule(["apps"], _APPS, _WRITE),
        _rule(["autoscaling"], ["horizontalpodautoscalers"], _WRITE),
        _rule(["batch"], ["cronjobs", "jobs"], _WRITE),
        _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _WRITE),
        _rule(["policy"], ["poddisruptionbudgets"], _WRITE),
    ]


def _admin_rules() -> list[Obj]:
    return [
        *_edit_rules(),
        _rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], [*_READ, *_WRITE]),
        _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    ]


def cluster_role(name: str, rules: list[Obj]) -> Obj:
    return {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}


def binding(kind: str, name: str, role_kind: str, role: str, subjects: list[Obj], ns: str | None = None) -> Obj:
    meta: Obj = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def group(name: str) -> Obj:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def user(name: str) -> Obj:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def default_objects() -> list[Obj]:
    """What kube-apiserver bootstraps (trimmed to the served kinds)."""
    discovery = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/"]
    discovery += ["/healthz", "/livez", "/readyz"]
    public = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
    reviews = ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]
    return [
        cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        cluster_role("admin", _admin_rules()),
        cluster_role("edit", _edit_rules()),
        cluster_role("view", _view_rules()),
        cluster_role(
            "system:basic-user",
            [
                _rule(["authorization.k8s.io"], reviews, ["create"]),
                _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        cluster_role("system:discovery", [{"nonResourceURLs": discovery, "verbs": ["get"]}]),
        cluster_role("system:public-info-viewer", [{"nonResourceURLs": public, "verbs": ["get"]}]),
        binding("ClusterRoleBinding", "cluster-admin", "ClusterRole", "cluster-admin", [group("system:masters")]),
        binding(
            "ClusterRoleBinding",
            "system:basic-user",
            "ClusterRole",
            "system:basic-user",
            [group("system:authenticated")],
        ),
        binding(
            "ClusterRoleBinding", "system:discovery", "ClusterRole", "system:discovery", [group("system:authenticated")]
        ),
        binding(
            "ClusterRoleBinding",
            "system:public-info-viewer",
            "ClusterRole",
            "system:public-info-viewer",
            [group("system:authenticated"), group("system:unauthenticated")],
        ),
        binding("ClusterRoleBinding", "viewers-view", "ClusterRole", "view", [group("viewers")]),
    ]


def demo_bindings() -> list[Obj]:
    """The demo's people: alice edits dev (via group dev-team), bob only reads dev."""
    return [
        binding("RoleBinding", "dev-team-edit", "ClusterRole", "edit", [group("dev-team")], ns="dev"),
        binding("RoleBinding", "bob-view", "ClusterRole", "view", [user("bob")], ns="dev"),
    ]


def load_manifests(path: Path) -> list[Obj]:
    """RBAC objects (and their namespaces/service accounts) from a YAML file or a directory of them."""
    files = sorted(path.glob("**/*.y*ml")) if path.is_dir() else [path]
    out: list[Obj] = []
    for file in files:
        for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "List":
                out.extend(d for d in doc.get("items") or [] if isinstance(d, dict))
            elif isinstance(doc, dict) and doc.get("kind"):
                out.append(doc)
    return out
