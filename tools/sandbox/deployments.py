"""Deployment -> ReplicaSet: rollouts, revisions and the deployment's status."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tools.sandbox.podevents import emit
from tools.sandbox.rolling import rolling_targets
from tools.sandbox.specs import (
    REVISION,
    _annotations,
    _controller_uid,
    _labels,
    _owner_ref,
    _parse,
    _pod_ready,
    _revision,
    _ts,
    template_hash,
)

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]


def _reconcile_deployment(cluster: Cluster, d: Obj, rs_by_owner: dict[str, list[Obj]]) -> None:
    meta, spec = d["metadata"], d["spec"]
    ns = meta["namespace"]
    template = spec["template"]
    h = template_hash(template)
    owned = rs_by_owner.get(meta["uid"], [])
    max_rev = max((_revision(rs) for rs in owned), default=0)
    desired = int(spec.get("replicas", 1))
    new_rs = next((rs for rs in owned if _labels(rs).get("pod-template-hash") == h), None)
    now = cluster.now()
    if spec.get("paused") and owned and (new_rs is None or _revision(new_rs) < max_rev):
        # A paused deployment keeps its current ReplicaSet (scaling still applies) until resumed.
        new_rs = max(owned, key=_revision)
    elif new_rs is None:
        rs_labels = {**_labels(template), "pod-template-hash": h}
        rs_template = copy.deepcopy(template)
        rs_template.setdefault("metadata", {})["labels"] = rs_labels
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = h
        new_rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{h}",
                "namespace": ns,
                "uid": cluster.uid(),
                "creationTimestamp": _ts(now),
                "generation": 1,
                "labels": rs_labels,
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": str(desired),
                    "deployment.kubernetes.io/max-replicas": str(desired + max(1, -(-desired // 4))),
                    REVISION: str(max_rev + 1),
                },
                "ownerReferences": [_owner_ref(d)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": rs_template},
            "status": {"replicas": 0},
        }
        cause = _annotations(d).get("kubernetes.io/change-cause")
        if cause:
            new_rs["metadata"]["annotations"]["kubernetes.io/change-cause"] = cause
        new_rs = cluster.store("replicasets", new_rs)
        owned = [*owned, new_rs]
        max_rev += 1
    elif _revision(new_rs) < max_rev:
        # Rolling back to an old template re-uses its ReplicaSet and gives it the next revision.
        bumped = copy.deepcopy(new_rs)
        bumped["metadata"].setdefault("annotations", {})[REVISION] = str(max_rev + 1)
        new_rs = cluster.store("replicasets", bumped)
        owned = [new_rs if rs["metadata"]["uid"] == new_rs["metadata"]["uid"] else rs for rs in owned]
        max_rev += 1
    targets: dict[str, int] = {}
    new_ready = 0
    if cluster.live:
        ready: dict[str, int] = {}
        for p in cluster.objects("pods", ns):
            if _pod_ready(p) and not p["metadata"].get("deletionTimestamp"):
                uid = _controller_uid(p) or ""
                ready[uid] = ready.get(uid, 0) + 1
        new_ready = ready.get(new_rs["metadata"]["uid"], 0)
        if _rolling(spec):
            # Live rollouts follow RollingUpdate's maxSurge / maxUnavailable, as a real cluster (tools.sandbox.rolling)
            targets = rolling_targets(spec, new_rs["metadata"]["uid"], owned, ready)
    for rs in owned:
        want = desired if rs is new_rs else 0
        have = int(rs["spec"].get("replicas", 0))
        if rs["metadata"]["uid"] in targets:
            want = targets[rs["metadata"]["uid"]]
        elif cluster.live and rs is not new_rs:
            # Recreate / paused: old pods keep serving until new ones are ready (never scaled back up).
            want = min(have, max(0, desired - new_ready))
        if have != want:
            scaled = copy.deepcopy(rs)
            scaled["spec"]["replicas"] = want
            if rs is new_rs:
                scaled["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = str(
                    desired
                )
            else:
                scaled["metadata"]["generation"] = int(rs["metadata"].get("generation", 1)) + 1
            cluster.store("replicasets", scaled)
            verb = "up" if want > have else "down"
            emit(
                cluster,
                d,
                "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs['metadata']['name']} from {have} to {want}",
                component="deployment-controller",
            )
    # Keep at most revisionHistoryLimit old, empty ReplicaSets, as the deployment controller does.
    limit = int(spec.get("revisionHistoryLimit", 10))
    old = sorted((rs for rs in owned if rs is not new_rs), key=_revision)
    old_empty = [rs for rs in old if int(rs["spec"].get("replicas", 0)) == 0]
    for rs in old_empty[: max(0, len(old_empty) - limit)]:
        removed = cluster.remove("replicasets", ns, rs["metadata"]["name"])
        if removed is not None:
            from tools.sandbox.controller import after_delete  # the cascade lives with the other deletes

            after_delete(cluster, "replicasets", removed, orphan=False, reconcile=False)
    rev = str(_revision(cluster.peek("replicasets", ns, new_rs["metadata"]["name"]) or new_rs))
    if _annotations(d).get(REVISION) != rev:
        nd = copy.deepcopy(cluster.peek("deployments", ns, meta["name"]) or d)
        nd["metadata"].setdefault("annotations", {})[REVISION] = rev
        cluster.store("deployments", nd)


def _rolling(spec: Obj) -> bool:
    strategy = (spec.get("strategy") or {}).get("type") or "RollingUpdate"
    return strategy == "RollingUpdate" and not spec.get("paused")


def _deployment_status(cluster: Cluster, d: Obj, owned: list[Obj], pods_by_owner: dict[str, list[Obj]]) -> None:
    meta, spec = d["metadata"], d["spec"]
    h = template_hash(spec["template"])
    desired = int(spec.get("replicas", 1))
    total = ready = updated = 0
    new_rs: Obj | None = None
    for rs in owned:
        pods = pods_by_owner.get(rs["metadata"]["uid"], [])
        total += len(pods)
        r = sum(1 for p in pods if _pod_ready(p))
        ready += r
        if _labels(rs).get("pod-template-hash") == h:
            updated = len(pods)
            new_rs = rs
    max_unavailable = desired * 25 // 100
    available_ok = ready >= desired - max_unavailable
    old = d.get("status") or {}
    old_conds = {c.get("type"): c for c in old.get("conditions") or []}
    now = _ts(cluster.now())

    def cond(type_: str, status: str, reason: str, message: str) -> Obj:
        prev = old_conds.get(type_)
        transition = prev["lastTransitionTime"] if prev and prev.get("status") == status else now
        update = (
            prev["lastUpdateTime"] if prev and prev.get("reason") == reason and prev.get("message") == message else now
        )
        return {
            "type": type_,
            "status": status,
            "lastUpdateTime": update,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }

    rs_name = new_rs["metadata"]["name"] if new_rs else meta["name"]
    conds = [
        cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        if available_ok
        else cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    ]
    new_created = _parse((new_rs or d)["metadata"].get("creationTimestamp")) or cluster.now()
    deadline = int(spec.get("progressDeadlineSeconds", 600))
    if updated == desired and ready == total == desired:
        conds.append(
            cond(
                "Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.'
            )
        )
    elif (cluster.wall() - new_created).total_seconds() > deadline:
        conds.append(
            cond(
                "Progressing", "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs_name}" has timed out progressing.'
            )
        )
    else:
        conds.append(cond("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'))
    status: Obj = {"observedGeneration": int(meta.get("generation", 1))}
    if total:
        status["replicas"] = total
    if updated:
        status["updatedReplicas"] = updated
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    if total - ready > 0:
        status["unavailableReplicas"] = total - ready
    elif desired - ready > 0:
        status["unavailableReplicas"] = desired - ready
    # Conditions come Progressing first in real clusters' output order: keep Available, Progressing sorted by age.
    status["conditions"] = conds
    current = cluster.peek("deployments", meta["namespace"], meta["name"]) or d
    if current.get("status") != status:
        new = copy.deepcopy(current)
        new["status"] = status
        cluster.store("deployments", new)
