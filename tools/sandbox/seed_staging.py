"""The `staging` seed: the demo's second cluster (`sandbox-staging`), with workloads and problems of its own.

namespaces default, kube-system, staging, data; nodes stg-node-1..2.
staging/api-gateway (2, healthy), staging/search (CrashLoopBackOff: cannot reach elasticsearch),
staging/notifications (ImagePullBackOff on a `-notfound` tag), staging/cache (OOMKilled, needs 1Gi),
data/postgres (StatefulSet, healthy), data/backup (Pending: asks for 32 CPUs' worth of memory).
"""

from __future__ import annotations

from tools.sandbox.cluster import Cluster
from tools.sandbox.controller import BEHAVIOUR, NEEDS_MEMORY
from tools.sandbox.seed import DAY, HOUR, _at, _create, container, deployment, namespace, node, pod_template, service


def seed_staging(cluster: Cluster) -> None:
    c = cluster
    _at(c, 20 * DAY)
    for i, name in enumerate(("stg-node-1", "stg-node-2"), start=1):
        _create(c, "nodes", node(name, f"10.20.1.{10 + i}", f"9a8b7c6d-5e4f-4a3b-8c2d-00000000010{i}"))
    for ns in ("default", "kube-system", "staging", "data"):
        _create(c, "namespaces", namespace(ns))
    _create(
        c,
        "deployments",
        deployment(
            "kube-system",
            "coredns",
            [container("coredns", "registry.k8s.io/coredns/coredns:v1.11.3", port=53, memory="70Mi")],
            replicas=1,
            labels={"k8s-app": "kube-dns"},
        ),
    )
    _at(c, 12 * DAY)
    _create(
        c,
        "deployments",
        deployment(
            "staging", "api-gateway", [container("gateway", "registry.example.com/api-gateway:v5.2.0")], replicas=2
        ),
    )
    _create(c, "services", service("staging", "api-gateway", {"app": "api-gateway"}))
    _create(
        c,
        "statefulsets",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "postgres", "namespace": "data", "labels": {"app": "postgres"}},
            "spec": {
                "replicas": 1,
                "serviceName": "postgres",
                "selector": {"matchLabels": {"app": "postgres"}},
                "template": pod_template(
                    {"app": "postgres"}, [container("postgres", "postgres:16.4", port=5432, memory="512Mi")]
                ),
            },
        },
    )
    _create(c, "services", service("data", "postgres", {"app": "postgres"}, port=5432, target=5432))
    _at(c, 2 * HOUR)
    _create(
        c,
        "deployments",
        deployment(
            "staging",
            "search",
            [container("search", "registry.example.com/search:v0.14.1")],
            template_annotations={BEHAVIOUR: "crashloop"},
        ),
    )
    _create(
        c,
        "deployments",
        deployment(
            "staging",
            "notifications",
            [container("notifications", "registry.example.com/notifications:v0.9.0-notfound")],
            template_annotations={BEHAVIOUR: "imagepull"},
        ),
    )
    _create(
        c,
        "deployments",
        deployment(
            "staging",
            "cache",
            [container("cache", "registry.example.com/cache:v2.1.0", memory="128Mi", memory_limit="256Mi")],
            template_annotations={BEHAVIOUR: "oomkilled", NEEDS_MEMORY: "1Gi"},
        ),
    )
    _at(c, 15 * 60)
    _create(
        c,
        "deployments",
        deployment(
            "data",
            "backup",
            [container("backup", "registry.example.com/backup:v1.0.0", port=None, memory="48Gi")],
            template_annotations={BEHAVIOUR: "pending"},
        ),
    )
    _at(c, 0)
