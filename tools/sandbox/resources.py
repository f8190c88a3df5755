"""The resource types the sandbox serves: one table drives discovery, routing, validation and field selectors."""

from __future__ import annotations

from dataclasses import dataclass, field

_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    field_labels: frozenset[str] = field(default_factory=frozenset)
    # Namespaces and services must be DNS-1123 labels; everything else a DNS-1123 subdomain.
    label_names: bool = False
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    categories: tuple[str, ...] = ()
    # Reviews (SubjectAccessReview ...): create-only, answered and never stored.
    virtual: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def supports_field(self, label: str) -> bool:
        return label in _META_FIELDS or label in self.field_labels


_ALL = ("all",)
_RBAC = "rbac.authorization.k8s.io"

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        ("ns",),
        ("status", "finalize"),
        frozenset({"status.phase"}),
        label_names=True,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    ResourceType("", "v1", "nodes", "node", "Node", False, ("no",), ("status",), frozenset({"spec.unschedulable"})),
    ResourceType(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        True,
        ("po",),
        ("status", "log", "eviction", "exec", "attach", "portforward"),
        frozenset(
            {
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            }
        ),
        categories=_ALL,
    ),
    ResourceType(
        "", "v1", "services", "service", "Service", True, ("svc",), ("status",), label_names=True, categories=_ALL
    ),
    ResourceType(
        "",
        "v1",
        "events",
        "event",
        "Event",
        True,
        ("ev",),
        (),
        frozenset(
            {
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            }
        ),
    ),
    ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "secrets", "secret", "Secret", True, (), (), frozenset({"type"})),
    ResourceType(
        "apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",), ("status", "scale"), categories=_ALL
    ),
    ResourceType(
        "apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",), ("status", "scale"), categories=_ALL
    ),
    ResourceType(
        "apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, ("sts",), ("status", "scale"), categories=_ALL
    ),
    ResourceType("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, ("ds",), ("status",), categories=_ALL),
    ResourceType("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", True),
    ResourceType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "endpoints", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        True,
        ("pvc",),
        ("status",),
    ),
    ResourceType("batch", "v1", "jobs", "job", "Job", True, (), ("status",), categories=_ALL),
    ResourceType("batch", "v1", "cronjobs", "cronjob", "CronJob", True, ("cj",), ("status",), categories=_ALL),
    ResourceType("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, ("ing",), ("status",)),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True),
    ResourceType(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        ("status",),
        categories=_ALL,
    ),
    *(
        ResourceType(_RBAC, "v1", plural, plural[:-1], kind, namespaced)
        for plural, kind, namespaced in (
            ("roles", "Role", True),
            ("rolebindings", "RoleBinding", True),
            ("clusterroles", "ClusterRole", False),
            ("clusterrolebindings", "ClusterRoleBinding", False),
        )
    ),
    *(
        ResourceType(group, "v1", plural, plural[:-1], kind, namespaced, verbs=("create",), virtual=True)
        for group, plural, kind, namespaced in (
            ("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
            ("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
            ("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview", False),
            ("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", True),
            ("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview", False),
        )
    ),
)

BY_PLURAL: dict[str, ResourceType] = {r.plural: r for r in RESOURCES}


def lookup(name: str) -> ResourceType | None:
    """Find a type by plural, singular, kind or short name (case-insensitive), for the test helpers."""
    low = name.lower()
    for r in RESOURCES:
        if low in (r.plural, r.singular, r.kind.lower()) or low in r.short_names:
            return r
    return None


def for_group_version(group: str, version: str) -> list[ResourceType]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


def group_versions() -> dict[str, str]:
    """Every served API group (not the core one) and its only version, in first-served order."""
    return {r.group: r.version for r in RESOURCES if r.group}


def discovery_list(group: str, version: str) -> dict[str, object]:
    """An APIResourceList as kubectl expects it (groupVersion "v1", not "/v1"; scale as autoscaling/v1 Scale)."""
    items: list[dict[str, object]] = []
    for r in for_group_version(group, version):
        entry: dict[str, object] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        items.append(entry)
        for sub in r.subresources:
            sub_entry: dict[str, object] = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced}
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale", verbs=["get", "patch", "update"])
            elif sub == "eviction":
                sub_entry.update(group="policy", version="v1", kind="Eviction", verbs=["create"])
            elif sub == "log":
                sub_entry.update(kind="Pod", verbs=["get"])
            elif sub in ("exec", "attach", "portforward"):
                options = {
                    "exec": "PodExecOptions",
                    "attach": "PodAttachOptions",
                    "portforward": "PodPortForwardOptions",
                }
                sub_entry.update(kind=options[sub], verbs=["create", "get"])
            elif sub == "finalize":
                sub_entry.update(kind="Namespace", verbs=["update"])
            else:
                sub_entry.update(kind=r.kind, verbs=["get", "patch", "update"])
            items.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}
