"""Controllers for the kinds added after the core set: Endpoints/EndpointSlices from Services and ready pods, Job
pods and status, HPA status, StatefulSet ControllerRevisions (`kubectl rollout history sts`).

Run at the end of every namespace reconcile. Objects made here get UIDs derived from their names, not from the
cluster's seeded RNG, so adding them left the demo's pod names unchanged.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from tools.sandbox.controller import _controller_uid, _owner_ref, _pod_ready, create_pod, template_hash

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]


def _uid(*parts: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256("/".join(parts).encode()).digest()[:16], version=4))


def _put(cluster: Cluster, plural: str, obj: Obj) -> None:
    """Store when new or changed; keep identity fields of an existing object."""
    meta = obj["metadata"]
    current = cluster.peek(plural, meta.get("namespace"), meta["name"])
    if current is not None:
        for key in ("uid", "creationTimestamp"):
            meta[key] = current["metadata"].get(key)
        probe = copy.deepcopy(obj)
        probe["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        if probe == current:
            return
    else:
        meta.setdefault("uid", _uid(plural, meta.get("namespace", ""), meta["name"]))
        meta.setdefault("creationTimestamp", cluster.age(0))
    cluster.store(plural, obj)


def _selects(selector: dict[str, str], pod: Obj) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _endpoints(cluster: Cluster, ns: str) -> None:
    pods = cluster.objects("pods", ns)
    for svc in cluster.objects("services", ns):
        selector = (svc.get("spec") or {}).get("selector") or {}
        if not selector:
            continue  # endpoints of selector-less services are the user's to write
        name = svc["metadata"]["name"]
        chosen = [p for p in pods if _selects(selector, p) and (p.get("status") or {}).get("podIP")]
        ready = [p for p in chosen if _pod_ready(p)]
        unready = [p for p in chosen if not _pod_ready(p)]
        ports = [
            {"name": p.get("name", ""), "port": int(p.get("targetPort") or p.get("port")), "protocol": "TCP"}
            if isinstance(p.get("targetPort", 0), int)
            else {"name": p.get("name", ""), "port": int(p.get("port")), "protocol": "TCP"}
            for p in (svc.get("spec") or {}).get("ports") or []
        ]

        def address(p: Obj) -> Obj:
            ref = {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"].get("uid")}
            return {"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName"), "targetRef": ref}

        subset: Obj = {"ports": ports}
        if ready:
            subset["addresses"] = [address(p) for p in ready]
        if unready:
            subset["notReadyAddresses"] = [address(p) for p in unready]
        labels = {"app.kubernetes.io/managed-by": "endpoint-controller"}
        _put(
            cluster,
            "endpoints",
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "subsets": [subset] if chosen else [],
            },
        )
        _put(
            cluster,
            "endpointslices",
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:5]}",
                    "namespace": ns,
                    "labels": {
                        "kubernetes.io/service-name": name,
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    },
                    "ownerReferences": [_owner_ref(svc)],
                },
                "addressType": "IPv4",
                "endpoints": [
                    {
                        "addresses": [p["status"]["podIP"]],
                        "conditions": {"ready": _pod_ready(p), "serving": _pod_ready(p), "terminating": False},
                        "nodeName": p["spec"].get("nodeName"),
                        "targetRef": address(p)["targetRef"],
                    }
                    for p in chosen
                ],
                "ports": ports,
            },
        )


def _jobs(cluster: Cluster, ns: str) -> None:
    pods = cluster.objects("pods", ns)
    for job in cluster.objects("jobs", ns):
        meta, spec = job["metadata"], job.get("spec") or {}
        uid = meta.get("uid", "")
        owned = [p for p in pods if _controller_uid(p) == uid]
        completions = int(spec.get("completions") or 1)
        if not owned and not (job.get("status") or {}).get("completionTime"):
            template = copy.deepcopy(spec.get("template") or {})
            template.setdefault("spec", {}).setdefault("restartPolicy", "Never")
            for i in range(completions):
                pod = create_pod(
                    cluster,
                    namespace=ns,
                    name=f"{meta['name']}-{hashlib.sha256(f'{uid}{i}'.encode()).hexdigest()[:5]}",
                    template=template,
                    owner=job,
                    extra_labels={"batch.kubernetes.io/job-name": meta["name"], "job-name": meta["name"]},
                )
                _complete(cluster, pod)
            owned = [p for p in cluster.objects("pods", ns) if _controller_uid(p) == uid]
        done = sum(1 for p in owned if (p.get("status") or {}).get("phase") == "Succeeded")
        status: Obj = {"startTime": meta.get("creationTimestamp"), "ready": 0, "terminating": 0}
        if done >= completions:
            status.update(
                succeeded=done,
                completionTime=cluster.age(0),
                conditions=[
                    {"type": t, "status": "True", "lastProbeTime": cluster.age(0), "lastTransitionTime": cluster.age(0)}
                    for t in ("SuccessCriteriaMet", "Complete")
                ],
            )
        else:
            status["active"] = len(owned) - done
        old = job.get("status") or {}
        if old.get("succeeded") != status.get("succeeded") or old.get("active") != status.get("active"):
            new = copy.deepcopy(job)
            new["status"] = {**old, **status}
            cluster.store("jobs", new)


def _complete(cluster: Cluster, pod: Obj) -> None:
    """A job's pod runs to completion (scripted: at once, exit 0)."""
    stored = cluster.peek("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
    if stored is None:
        return
    done = copy.deepcopy(stored)
    status = done.setdefault("status", {})
    status["phase"] = "Succeeded"
    for st in status.get("containerStatuses") or []:
        st.update(ready=False, started=False)
        st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": cluster.age(0)}}
    for cond in status.get("conditions") or []:
        if cond.get("type") in ("Ready", "ContainersReady"):
            cond.update(status="False", reason="PodCompleted")
    cluster.store("pods", done)


def _hpas(cluster: Cluster, ns: str) -> None:
    for hpa in cluster.objects("horizontalpodautoscalers", ns):
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        plural = {"Deployment": "deployments", "StatefulSet": "statefulsets"}.get(str(ref.get("kind")), "")
        target = cluster.peek(plural, ns, str(ref.get("name"))) if plural else None
        current = int((target or {}).get("spec", {}).get("replicas", 0))
        low, high = int(spec.get("minReplicas") or 1), int(spec.get("maxReplicas") or 1)
        able = target is not None
        status: Obj = {
            "currentReplicas": current,
            "desiredReplicas": min(max(current, low), high) if able else 0,
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}]
            if able
            else [],
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True" if able else "False",
                    "reason": "ReadyForNewScale" if able else "FailedGetScale",
                    "message": "recommended size matches current size"
                    if able
                    else f'deployments/scale.apps "{ref.get("name")}" not found',
                },
                {
                    "type": "ScalingActive",
                    "status": "True" if able else "False",
                    "reason": "ValidMetricFound" if able else "FailedGetScale",
                    "message": "the HPA was able to successfully calculate a replica count from cpu resource "
                    "utilization (percentage of request)"
                    if able
                    else "the HPA controller was unable to get the target's current scale",
                },
            ],
        }
        if (hpa.get("status") or {}) != status:
            new = copy.deepcopy(hpa)
            new["status"] = status
            cluster.store("horizontalpodautoscalers", new)


def _revisions(cluster: Cluster, ns: str) -> None:
    """One ControllerRevision per StatefulSet template seen, numbered in order (what `rollout history` lists)."""
    revisions = cluster.objects("controllerrevisions", ns)
    for sts in cluster.objects("statefulsets", ns):
        uid = sts["metadata"].get("uid", "")
        owned = [r for r in revisions if _controller_uid(r) == uid]
        name = f"{sts['metadata']['name']}-{template_hash(sts['spec']['template'])}"
        if any(r["metadata"]["name"] == name for r in owned):
            continue
        labels = dict((sts["spec"].get("selector") or {}).get("matchLabels") or {})
        labels["controller.kubernetes.io/hash"] = name.rsplit("-", 1)[-1]
        template = copy.deepcopy(sts["spec"]["template"])
        _put(
            cluster,
            "controllerrevisions",
            {
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": [_owner_ref(sts)]},
                "data": {"spec": {"template": {**template, "$patch": "replace"}}},
                "revision": max((int(r.get("revision") or 0) for r in owned), default=0) + 1,
            },
        )


def sync_namespace(cluster: Cluster, ns: str) -> None:
    _jobs(cluster, ns)
    _revisions(cluster, ns)
    _hpas(cluster, ns)
    _endpoints(cluster, ns)
