"""A tiny controller manager: Deployment -> ReplicaSet -> Pod, StatefulSet and DaemonSet pods, scheduling, the
scripted pod behaviours and the events a real cluster would emit for them.

Everything happens synchronously inside the write that caused it (the cluster lock is held), so a client
that scales a deployment sees the pods in its very next list. Behaviours come from the pod template's
annotations, so they survive scale and restart, and a `rollout undo` to a template without them heals.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from tools.sandbox.deployments import _deployment_status, _reconcile_deployment
from tools.sandbox.podevents import emit
from tools.sandbox.pods import _kill_pod, _schedule, build_pod_status, create_pod, start_pod
from tools.sandbox.specs import (
    BAD_IMAGE,
    BEHAVIOUR,
    LOG_PROFILE,
    NEEDS_MEMORY,
    _annotations,
    _controller_uid,
    _labels,
    _owner_ref,
    _pod_ready,
    _revision_hash,
    apply_defaults,
    immutable_changes,
    quantity,
    template_hash,
    validate_spec,
)

# The names other sandbox modules import from here: the controller manager's public face.
__all__ = [
    "BAD_IMAGE",
    "BEHAVIOUR",
    "LOG_PROFILE",
    "NEEDS_MEMORY",
    "_controller_uid",
    "_owner_ref",
    "_pod_ready",
    "after_delete",
    "after_write",
    "apply_defaults",
    "build_pod_status",
    "create_pod",
    "immutable_changes",
    "quantity",
    "reconcile_namespace",
    "template_hash",
    "validate_spec",
]

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]


def _reconcile_replicaset(cluster: Cluster, rs: Obj, pods: list[Obj]) -> None:
    meta = rs["metadata"]
    want = int(rs["spec"].get("replicas", 1))
    alive = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    if len(alive) < want:
        for _ in range(want - len(alive)):
            name = f"{meta['name']}-{cluster.rand_suffix()}"
            while cluster.peek("pods", meta["namespace"], name) is not None:
                name = f"{meta['name']}-{cluster.rand_suffix()}"
            pod = create_pod(
                cluster,
                namespace=meta["namespace"],
                name=name,
                template=rs["spec"]["template"],
                owner=rs,
                generate_name=f"{meta['name']}-",
            )
            alive.append(pod)
            emit(cluster, rs, "SuccessfulCreate", f"Created pod: {name}", component="replicaset-controller")
    elif len(alive) > want:
        # Unready pods go first, then the newest, like the ReplicaSet controller's ranking.
        ranked = sorted(alive, key=lambda p: str(p["metadata"].get("creationTimestamp", "")), reverse=True)
        ranked = sorted(ranked, key=_pod_ready)
        doomed = ranked[: len(alive) - want]
        for p in doomed:
            _kill_pod(cluster, p)
            emit(
                cluster,
                rs,
                "SuccessfulDelete",
                f"Deleted pod: {p['metadata']['name']}",
                component="replicaset-controller",
            )
        gone = {p["metadata"]["name"] for p in doomed}
        alive = [p for p in alive if p["metadata"]["name"] not in gone]
    ready = sum(1 for p in alive if _pod_ready(p))
    status: Obj = {"replicas": len(alive), "fullyLabeledReplicas": len(alive)}
    if not alive:
        status = {"replicas": 0}
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    status["observedGeneration"] = int(meta.get("generation", 1))
    current = cluster.peek("replicasets", meta["namespace"], meta["name"]) or rs
    if current.get("status") != status:
        new = copy.deepcopy(current)
        new["status"] = status
        cluster.store("replicasets", new)


def _reconcile_statefulset(cluster: Cluster, s: Obj, pods: list[Obj]) -> None:
    meta, spec = s["metadata"], s["spec"]
    ns, name = meta["namespace"], meta["name"]
    want = int(spec.get("replicas", 1))
    rev = _revision_hash(s)
    by_name = {p["metadata"]["name"]: p for p in pods}
    for pname, p in sorted(by_name.items()):
        idx = pname.rsplit("-", 1)[-1]
        if not idx.isdigit() or int(idx) >= want or _labels(p).get("controller-revision-hash") != rev:
            _kill_pod(cluster, p)
            emit(
                cluster,
                s,
                "SuccessfulDelete",
                f"delete Pod {pname} in StatefulSet {name} successful",
                component="statefulset-controller",
            )
            by_name.pop(pname)
    for i in range(want):
        pname = f"{name}-{i}"
        if pname in by_name:
            continue
        by_name[pname] = create_pod(
            cluster,
            namespace=ns,
            name=pname,
            template=spec["template"],
            owner=s,
            extra_labels={
                "controller-revision-hash": rev,
                "apps.kubernetes.io/pod-index": str(i),
                "statefulset.kubernetes.io/pod-name": pname,
            },
            spec_extra={"hostname": pname, "subdomain": spec.get("serviceName") or name},
        )
        emit(
            cluster,
            s,
            "SuccessfulCreate",
            f"create Pod {pname} in StatefulSet {name} successful",
            component="statefulset-controller",
        )
    alive = list(by_name.values())
    ready = sum(1 for p in alive if _pod_ready(p))
    status: Obj = {
        "observedGeneration": int(meta.get("generation", 1)),
        "replicas": len(alive),
        "currentReplicas": len(alive),
        "updatedReplicas": len(alive),
        "currentRevision": rev,
        "updateRevision": rev,
        "collisionCount": 0,
        "availableReplicas": ready,
    }
    if ready:
        status["readyReplicas"] = ready
    current = cluster.peek("statefulsets", ns, name) or s
    if current.get("status") != status:
        new = copy.deepcopy(current)
        new["status"] = status
        cluster.store("statefulsets", new)


def _reconcile_daemonset(cluster: Cluster, ds: Obj, pods: list[Obj]) -> None:
    meta, spec = ds["metadata"], ds["spec"]
    ns, name = meta["namespace"], meta["name"]
    rev = template_hash(spec["template"])
    nodes = [n["metadata"]["name"] for n in cluster.objects("nodes")]
    by_node: dict[str, Obj] = {}
    for p in pods:
        node = p["spec"].get("nodeName")
        if node not in nodes or node in by_node or _labels(p).get("controller-revision-hash") != rev:
            _kill_pod(cluster, p)
            emit(
                cluster,
                ds,
                "SuccessfulDelete",
                f"Deleted pod: {p['metadata']['name']}",
                component="daemonset-controller",
            )
        else:
            by_node[node] = p
    for node in nodes:
        if node in by_node:
            continue
        pname = f"{name}-{cluster.rand_suffix()}"
        by_node[node] = create_pod(
            cluster,
            namespace=ns,
            name=pname,
            template=spec["template"],
            owner=ds,
            generate_name=f"{name}-",
            extra_labels={"controller-revision-hash": rev, "pod-template-generation": str(meta.get("generation", 1))},
            node_name=node,
        )
        emit(cluster, ds, "SuccessfulCreate", f"Created pod: {pname}", component="daemonset-controller")
    ready = sum(1 for p in by_node.values() if _pod_ready(p))
    status: Obj = {
        "currentNumberScheduled": len(by_node),
        "desiredNumberScheduled": len(nodes),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "observedGeneration": int(meta.get("generation", 1)),
        "updatedNumberScheduled": len(by_node),
        "numberAvailable": ready,
    }
    if len(nodes) - ready:
        status["numberUnavailable"] = len(nodes) - ready
    current = cluster.peek("daemonsets", ns, name) or ds
    if current.get("status") != status:
        new = copy.deepcopy(current)
        new["status"] = status
        cluster.store("daemonsets", new)


def _group(objs: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = defaultdict(list)
    for o in objs:
        uid = _controller_uid(o)
        if uid:
            out[uid].append(o)
    return out


def reconcile_namespace(cluster: Cluster, ns: str) -> None:
    for d in cluster.objects("deployments", ns):
        _reconcile_deployment(cluster, d, _group(cluster.objects("replicasets", ns)))
    pods_by_owner = _group(cluster.objects("pods", ns))
    for rs in cluster.objects("replicasets", ns):
        _reconcile_replicaset(cluster, rs, pods_by_owner.get(rs["metadata"]["uid"], []))
    for s in cluster.objects("statefulsets", ns):
        _reconcile_statefulset(cluster, s, pods_by_owner.get(s["metadata"]["uid"], []))
    for ds in cluster.objects("daemonsets", ns):
        _reconcile_daemonset(cluster, ds, pods_by_owner.get(ds["metadata"]["uid"], []))
    if cluster.objects("deployments", ns):
        pods_by_owner = _group(cluster.objects("pods", ns))
        rs_by_owner = _group(cluster.objects("replicasets", ns))
        for d in cluster.objects("deployments", ns):
            _deployment_status(cluster, d, rs_by_owner.get(d["metadata"]["uid"], []), pods_by_owner)
    from tools.sandbox.extras import sync_namespace  # endpoints, jobs, HPAs, controller revisions

    sync_namespace(cluster, ns)


def _reconcile_later_or_now(cluster: Cluster, ns: str) -> None:
    if cluster.deferred is not None:
        cluster.deferred.add(ns)  # bulk seeding reconciles each namespace once at the end
    else:
        reconcile_namespace(cluster, ns)


_RECONCILED = frozenset(
    {"deployments", "replicasets", "statefulsets", "daemonsets", "pods", "jobs", "services", "horizontalpodautoscalers"}
)


def after_write(cluster: Cluster, plural: str, obj: Obj, *, created: bool) -> None:
    if plural == "pods" and created:
        # A bare pod from a client: schedule it and give it its scripted status.
        pod = copy.deepcopy(obj)
        start_pod(cluster, pod)
    if plural == "nodes":
        for ds_ns in cluster.namespaces_with("daemonsets"):
            reconcile_namespace(cluster, ds_ns)
        _retry_pending(cluster)
        return
    ns = (obj.get("metadata") or {}).get("namespace")
    if ns and plural in _RECONCILED:
        _reconcile_later_or_now(cluster, ns)


def _retry_pending(cluster: Cluster) -> None:
    """A node became schedulable (uncordon, new node): the scheduler retries pods that found no node."""
    if not any(not (n.get("spec") or {}).get("unschedulable") for n in cluster.objects("nodes")):
        return
    for pod in cluster.objects("pods"):
        if pod["spec"].get("nodeName") or _annotations(pod).get(BEHAVIOUR) == "pending":
            continue
        node, _ = _schedule(cluster, pod)
        if node:
            retry = copy.deepcopy(pod)
            start_pod(cluster, retry)


def after_delete(cluster: Cluster, plural: str, gone: Obj, *, orphan: bool, reconcile: bool = True) -> None:
    ns = gone["metadata"].get("namespace")
    uid = gone["metadata"].get("uid")
    if plural == "pods":
        for st in (gone.get("status") or {}).get("containerStatuses") or []:
            if "running" in (st.get("state") or {}):
                emit(
                    cluster,
                    gone,
                    "Killing",
                    f"Stopping container {st['name']}",
                    host=gone["spec"].get("nodeName"),
                    field_path=f"spec.containers{{{st['name']}}}",
                )
    if ns and plural in ("deployments", "replicasets", "statefulsets", "daemonsets", "jobs"):
        dependents = ("replicasets", "pods") if plural == "deployments" else ("pods",)
        for dep_plural in dependents:
            for dep in cluster.objects(dep_plural, ns):
                if _controller_uid(dep) != uid:
                    continue
                if orphan:
                    kept = copy.deepcopy(dep)
                    kept["metadata"].pop("ownerReferences", None)
                    cluster.store(dep_plural, kept)
                else:
                    removed = cluster.remove(dep_plural, ns, dep["metadata"]["name"])
                    if removed is not None and dep_plural == "replicasets":
                        after_delete(cluster, dep_plural, removed, orphan=False, reconcile=False)
    if plural == "nodes":
        for ns_ in cluster.namespaces_with("daemonsets"):
            reconcile_namespace(cluster, ns_)
        return
    if reconcile and ns and plural in _RECONCILED:
        reconcile_namespace(cluster, ns)
