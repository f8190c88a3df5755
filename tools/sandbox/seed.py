"""Seeds: `demo` (a small, lived-in cluster with scripted failures and secret-looking data) and `scale`.

Both are deterministic: fixed names, a seeded RNG for generated suffixes and UIDs. Objects are created "in the
past" (cluster.backdate) so ages, restart counts and event times look like a real cluster's.
"""

from __future__ import annotations

import base64
import copy
import random
import threading
import time
from typing import Any

from tools.sandbox.cluster import Cluster
from tools.sandbox.controller import BAD_IMAGE, BEHAVIOUR, LOG_PROFILE, NEEDS_MEMORY, reconcile_namespace
from tools.sandbox.rbac_seed import default_objects, demo_bindings
from tools.sandbox.resources import BY_PLURAL, lookup

Obj = dict[str, Any]
DAY = 86400.0
HOUR = 3600.0
GITHUB_TOKEN = "ghp_" + "R8x2Kq7LmN4pZ1vW9cT3yB6hJ0sD5fG8aE2u"  # 36 chars after the prefix: looks real, is not
DATABASE_URL = "postgres://orders:S3cr3t-Passw0rd@db.production:5432/orders"


def _at(cluster: Cluster, seconds_ago: float) -> None:
    cluster.backdate = seconds_ago


def _create(cluster: Cluster, plural: str, obj: Obj) -> Obj:
    rtype = BY_PLURAL[plural]
    ns = obj["metadata"].get("namespace") if rtype.namespaced else None
    return cluster.create(rtype, ns, obj)


def node(name: str, ip: str, boot: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/worker": "",
                "topology.kubernetes.io/zone": f"zone-{name[-1]}",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"podCIDR": f"10.244.{name[-1]}.0/24", "podCIDRs": [f"10.244.{name[-1]}.0/24"]},
        "status": {
            "capacity": {"cpu": "4", "memory": "16393576Ki", "pods": "110", "ephemeral-storage": "102687672Ki"},
            "allocatable": {"cpu": "3800m", "memory": "15242600Ki", "pods": "110", "ephemeral-storage": "94636958Ki"},
            "conditions": [
                _node_cond(
                    "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"
                ),
                _node_cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                _node_cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                _node_cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": boot.replace("-", "")[:32],
                "systemUUID": boot,
                "bootID": boot,
                "kernelVersion": "6.8.0-1017-aws",
                "osImage": "Ubuntu 24.04.1 LTS",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": "v1.32.0",
                "kubeProxyVersion": "v1.32.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def _node_cond(type_: str, status: str, reason: str, message: str) -> Obj:
    return {
        "type": type_,
        "status": status,
        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "reason": reason,
        "message": message,
    }


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def container(
    name: str,
    image: str,
    *,
    port: int | None = 8080,
    env: list[Obj] | None = None,
    memory: str | None = None,
    memory_limit: str | None = None,
    cpu: str = "100m",
) -> Obj:
    c: Obj = {"name": name, "image": image}
    if port:
        c["ports"] = [{"containerPort": port, "name": "http", "protocol": "TCP"}]
    if env:
        c["env"] = env
    requests: Obj = {"cpu": cpu, "memory": memory or "128Mi"}
    limits: Obj = {"memory": memory_limit or memory or "256Mi"}
    c["resources"] = {"requests": requests, "limits": limits}
    return c


def pod_template(labels: dict[str, str], containers: list[Obj], annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"metadata": meta, "spec": {"containers": containers}}


def deployment(
    ns: str,
    name: str,
    containers: list[Obj],
    *,
    replicas: int = 1,
    labels: dict[str, str] | None = None,
    template_annotations: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Obj:
    sel = labels or {"app": name}
    meta: Obj = {"name": name, "namespace": ns, "labels": dict(sel)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(sel)},
            "template": pod_template(sel, containers, template_annotations),
        },
    }


def service(ns: str, name: str, selector: dict[str, str] | None, port: int = 80, target: int = 8080) -> Obj:
    spec: Obj = {"ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}]}
    if selector:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def seed_demo(cluster: Cluster) -> None:
    c = cluster
    _at(c, 40 * DAY)
    for i, name in enumerate(("node-1", "node-2", "node-3"), start=1):
        _create(c, "nodes", node(name, f"10.0.1.{10 + i}", f"6f1c2d3e-4a5b-4c6d-8e9f-00000000000{i}"))
    for ns in ("default", "kube-system", "dev", "production"):
        _create(c, "namespaces", namespace(ns))
    kube_svc = service("default", "kubernetes", None, port=443, target=6443)
    kube_svc["spec"]["clusterIP"] = "10.96.0.1"
    kube_svc["metadata"]["labels"] = {"component": "apiserver", "provider": "kubernetes"}
    _create(c, "services", kube_svc)

    # kube-system
    _create(
        c,
        "deployments",
        deployment(
            "kube-system",
            "coredns",
            [
                container(
                    "coredns", "registry.k8s.io/coredns/coredns:v1.11.3", port=53, memory="70Mi", memory_limit="170Mi"
                )
            ],
            replicas=2,
            labels={"k8s-app": "kube-dns"},
        ),
    )
    svc = service("kube-system", "kube-dns", {"k8s-app": "kube-dns"}, port=53, target=53)
    svc["spec"]["clusterIP"] = "10.96.0.10"
    _create(c, "services", svc)
    _create(
        c,
        "daemonsets",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                "template": pod_template(
                    {"k8s-app": "kube-proxy"},
                    [container("kube-proxy", "registry.k8s.io/kube-proxy:v1.32.0", port=None)],
                ),
            },
        },
    )

    # default
    _at(c, 9 * DAY)
    _create(c, "deployments", deployment("default", "nginx", [container("nginx", "nginx:1.27.3", port=80)], replicas=2))
    _create(c, "services", service("default", "nginx", {"app": "nginx"}, port=80, target=80))

    # dev
    _at(c, 6 * DAY)
    _create(
        c,
        "deployments",
        deployment(
            "dev",
            "cart-service-v1",
            [container("cart-service", "registry.example.com/cart-service:v1.4.2")],
            labels={"app": "cart-service", "version": "v1"},
            template_annotations={LOG_PROFILE: "cart-service-v1"},
        ),
    )
    _create(c, "services", service("dev", "cart-service", {"app": "cart-service"}))
    _create(
        c,
        "statefulsets",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "redis", "namespace": "dev", "labels": {"app": "redis"}},
            "spec": {
                "replicas": 1,
                "serviceName": "redis",
                "selector": {"matchLabels": {"app": "redis"}},
                "template": pod_template({"app": "redis"}, [container("redis", "redis:7.2.4", port=6379)]),
            },
        },
    )
    redis_svc = service("dev", "redis", {"app": "redis"}, port=6379, target=6379)
    redis_svc["spec"]["clusterIP"] = "None"
    redis_svc["spec"]["clusterIPs"] = ["None"]
    _create(c, "services", redis_svc)
    _at(c, 5 * DAY)
    _create(
        c,
        "deployments",
        deployment(
            "dev",
            "frontend",
            [container("frontend", "registry.example.com/frontend:v2.3.0", port=80)],
            annotations={"kubernetes.io/change-cause": "release v2.3.0"},
        ),
    )
    _create(c, "services", service("dev", "frontend", {"app": "frontend"}, port=80, target=80))
    _create(
        c,
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "frontend-config", "namespace": "dev"},
            "data": {"API_BASE_URL": "http://cart-service.dev.svc", "FEATURE_NEW_CHECKOUT": "false"},
        },
    )
    _at(c, 3 * HOUR)
    _create(
        c,
        "deployments",
        deployment(
            "dev",
            "payment-api",
            [
                container(
                    "payment-api",
                    "registry.example.com/payment-api:v3.1.0",
                    env=[{"name": "DB_HOST", "value": "10.0.3.7"}, {"name": "DB_PORT", "value": "5432"}],
                )
            ],
            template_annotations={BEHAVIOUR: "crashloop"},
        ),
    )
    _create(c, "services", service("dev", "payment-api", {"app": "payment-api"}))
    _at(c, 2 * HOUR)
    _create(
        c,
        "deployments",
        deployment(
            "dev",
            "cart-service-v2",
            [container("cart-service", "registry.example.com/cart-service:v2.0.0-canary")],
            labels={"app": "cart-service", "version": "v2"},
            template_annotations={LOG_PROFILE: "cart-service-v2"},
        ),
    )
    _at(c, 45 * 60)
    bad = "registry.example.com/frontend:v2.3.1-typo"
    c.patch(
        BY_PLURAL["deployments"],
        "dev",
        "frontend",
        "application/strategic-merge-patch+json",
        {
            "metadata": {"annotations": {"kubernetes.io/change-cause": "release v2.3.1"}},
            "spec": {
                "template": {
                    "metadata": {"annotations": {BEHAVIOUR: "imagepull", BAD_IMAGE: bad}},
                    "spec": {"containers": [{"name": "frontend", "image": bad}]},
                }
            },
        },
    )

    # production
    _at(c, 30 * DAY)
    _create(
        c,
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-credentials", "namespace": "production"},
            "type": "Opaque",
            "data": {
                "username": _b64("orders"),
                "password": _b64("S3cr3t-Passw0rd"),
                "host": _b64("db.production"),
                "url": _b64(DATABASE_URL),
            },
        },
    )
    _at(c, 12 * DAY)
    web_containers = [
        container("web", "registry.example.com/web:v5.2.0"),
        container("nginx-sidecar", "nginx:1.27.3", port=80, memory="32Mi", memory_limit="64Mi", cpu="20m"),
    ]
    web_containers[1]["ports"][0]["name"] = "proxy"
    _create(
        c,
        "deployments",
        deployment(
            "production",
            "web",
            web_containers,
            replicas=3,
            annotations={"example.com/api-token": GITHUB_TOKEN, "example.com/owner": "team-storefront"},
        ),
    )
    _create(c, "services", service("production", "web", {"app": "web"}, port=80, target=80))
    _at(c, 8 * DAY)
    _create(
        c,
        "deployments",
        deployment(
            "production",
            "checkout",
            [container("checkout", "registry.example.com/checkout:v1.9.3")],
            replicas=2,
        ),
    )
    _create(c, "services", service("production", "checkout", {"app": "checkout"}))
    _at(c, 4 * HOUR)
    _create(
        c,
        "deployments",
        deployment(
            "production",
            "orders",
            [
                container(
                    "orders",
                    "registry.example.com/orders:v2.7.1",
                    memory="128Mi",
                    memory_limit="256Mi",
                    env=[
                        {"name": "DATABASE_URL", "value": DATABASE_URL},
                        {
                            "name": "DB_PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "password"}},
                        },
                        {"name": "CACHE_WARM", "value": "true"},
                    ],
                )
            ],
            template_annotations={BEHAVIOUR: "oomkilled", NEEDS_MEMORY: "512Mi"},
        ),
    )
    _create(c, "services", service("production", "orders", {"app": "orders"}))
    _at(c, 25 * 60)
    _create(
        c,
        "deployments",
        deployment(
            "production",
            "report-worker",
            [
                container(
                    "report-worker",
                    "registry.example.com/report-worker:v1.0.4",
                    port=None,
                    memory="64Gi",
                    memory_limit="64Gi",
                )
            ],
            template_annotations={BEHAVIOUR: "pending"},
        ),
    )
    _at(c, 0)


def seed_scale(cluster: Cluster, *, namespaces: int = 10, pods: int = 1000) -> None:
    """`namespaces` x `pods` healthy pods, owned by Deployments of 10 replicas (plus a remainder)."""
    c = cluster
    c.emit_events = False  # thousands of Scheduled/Pulled events would only slow the benchmark down
    _at(c, 10 * DAY)
    for i in range(1, 4):
        _create(c, "nodes", node(f"node-{i}", f"10.0.1.{10 + i}", f"6f1c2d3e-4a5b-4c6d-8e9f-00000000000{i}"))
    _create(c, "namespaces", namespace("default"))
    c.deferred = set()
    try:
        for n in range(namespaces):
            ns = f"scale-{n:03d}"
            _create(c, "namespaces", namespace(ns))
            left, d = pods, 0
            while left > 0:
                size = min(10, left)
                _create(
                    c,
                    "deployments",
                    deployment(
                        ns, f"app-{d:04d}", [container("app", f"registry.example.com/app:v1.{d % 7}")], replicas=size
                    ),
                )
                left -= size
                d += 1
        for ns in sorted(c.deferred):
            reconcile_namespace(c, ns)
    finally:
        c.deferred = None
        c.emit_events = True
        _at(c, 0)


_TEMPLATE_MAX_AGE = 30.0  # seconds: keeps ages and restart counts of a cached seed close to the wall clock
_templates: dict[tuple[str, int, int], tuple[float, Cluster]] = {}
_templates_lock = threading.Lock()


def build(seed: str, *, namespaces: int = 10, pods: int = 1000, cached: bool = True) -> Cluster:
    """A freshly seeded cluster. The demo seed is built once and cloned (~1 ms instead of ~50 ms per test);
    a clone is indistinguishable from a fresh build (same names, UIDs and RNG state)."""
    if not cached or seed not in ("demo", "staging"):
        return _build(seed, namespaces=namespaces, pods=pods)
    key = (seed, namespaces, pods)
    with _templates_lock:
        hit = _templates.get(key)
        if hit is None or time.monotonic() - hit[0] > _TEMPLATE_MAX_AGE:
            hit = (time.monotonic(), _build(seed, namespaces=namespaces, pods=pods))
            _templates[key] = hit
        return hit[1].clone()


def seed_rbac(cluster: Cluster, objs: list[Obj]) -> None:
    """RBAC objects, created "10 days ago" with an RNG of their own so the workloads' names stay as they were."""
    rng, cluster.rng = cluster.rng, random.Random(f"kubeduty-sandbox-rbac:{cluster.seed}:{len(objs)}")
    _at(cluster, 10 * DAY)
    try:
        for obj in objs:
            rtype = lookup(str(obj.get("kind", "")))
            assert rtype is not None
            _create(cluster, rtype.plural, copy.deepcopy(obj))
    finally:
        _at(cluster, 0)
        cluster.rng = rng


def _build(seed: str, *, namespaces: int, pods: int) -> Cluster:
    cluster = Cluster(seed=seed)
    with cluster.lock:
        if seed == "demo":
            seed_demo(cluster)
            seed_rbac(cluster, [*default_objects(), *demo_bindings()])
        elif seed == "scale":
            seed_scale(cluster, namespaces=namespaces, pods=pods)
            seed_rbac(cluster, default_objects())
        elif seed == "staging":
            from tools.sandbox.seed_staging import seed_staging  # it builds on this module's helpers

            seed_staging(cluster)
            seed_rbac(cluster, default_objects())
        elif seed == "empty":
            _create(cluster, "namespaces", namespace("default"))
            seed_rbac(cluster, default_objects())
        else:
            raise ValueError(f"unknown seed {seed!r}: use demo, staging, scale or empty")
    return cluster
