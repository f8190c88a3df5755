"""Pods: scheduling, the scripted statuses (crash loop, image pull, OOM, pending) and creation from a template."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tools.sandbox.podevents import _pod_events, emit
from tools.sandbox.specs import (
    BEHAVIOUR,
    NEEDS_MEMORY,
    _annotations,
    _default_pod_spec,
    _memory_limit,
    _memory_request,
    _owner_ref,
    _parse,
    _qos,
    _sha,
    _ts,
    image_id,
    image_is_bad,
    quantity,
)

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]


def _container_outcome(pod: Obj, index: int, container: Obj) -> str:
    ann = _annotations(pod)
    behaviour = ann.get(BEHAVIOUR, "healthy")
    if image_is_bad(str(container.get("image", "")), ann):
        return "imagepull"
    if index == 0 and behaviour == "crashloop":
        return "crashloop"
    if index == 0 and behaviour == "oomkilled":
        need = quantity(ann.get(NEEDS_MEMORY)) if ann.get(NEEDS_MEMORY) else 0.0
        if not need or _memory_limit(container) < need:
            return "oom"
    return "running"


def _schedule(cluster: Cluster, pod: Obj) -> tuple[str | None, str]:
    """Pick a node round-robin, or explain why none fits (the scheduler's FailedScheduling message)."""
    nodes = cluster.objects("nodes")
    total = len(nodes)
    ann = _annotations(pod)
    spec = pod["spec"]
    if spec.get("nodeName"):
        return str(spec["nodeName"]), ""
    schedulable = [n for n in nodes if not (n.get("spec") or {}).get("unschedulable")]
    request = _memory_request(spec)
    fits = [
        n for n in schedulable if request <= quantity(((n.get("status") or {}).get("allocatable") or {}).get("memory"))
    ]
    if ann.get(BEHAVIOUR) == "pending" or (schedulable and not fits):
        return None, (
            f"0/{total} nodes are available: {total} Insufficient memory. preemption: 0/{total} nodes are "
            f"available: {total} No preemption victims found for incoming pod."
        )
    if not schedulable:
        return None, (
            f"0/{total} nodes are available: {total} node(s) were unschedulable. preemption: 0/{total} nodes are "
            f"available: {total} Preemption is not helpful for scheduling."
        )
    node = fits[cluster.sched_counter % len(fits)]
    cluster.sched_counter += 1
    return str(node["metadata"]["name"]), ""


def _restarts(cluster: Cluster, created: datetime) -> int:
    age = (cluster.wall() - created).total_seconds()
    return max(1, min(int(age // 300) + 1, 250))


def build_pod_status(cluster: Cluster, pod: Obj, node: str | None, unschedulable_msg: str) -> Obj:
    meta, spec = pod["metadata"], pod["spec"]
    created = _parse(meta.get("creationTimestamp")) or cluster.now()
    wall = cluster.wall()
    t_sched = _ts(created + timedelta(seconds=1))
    t_start = created + timedelta(seconds=4)
    if node is None:
        return {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": t_sched,
                    "reason": "Unschedulable",
                    "message": unschedulable_msg,
                }
            ],
            "qosClass": _qos(spec),
        }
    statuses: list[Obj] = []
    not_ready: list[str] = []
    any_pull_failure = False
    for i, c in enumerate(spec.get("containers") or []):
        name, image = str(c["name"]), str(c["image"])
        outcome = _container_outcome(pod, i, c)
        cid = f"containerd://{_sha(meta.get('uid', '') + name)}"
        st: Obj = {"name": name, "image": image, "imageID": image_id(image), "restartCount": 0}
        if outcome == "running":
            st.update(
                ready=True, started=True, containerID=cid, state={"running": {"startedAt": _ts(t_start)}}, lastState={}
            )
        elif outcome == "imagepull":
            any_pull_failure = True
            st.update(
                imageID="",
                ready=False,
                started=False,
                state={"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}},
                lastState={},
            )
        else:
            restarts = _restarts(cluster, created)
            run = timedelta(seconds=12 if outcome == "crashloop" else 95)
            finished = wall - timedelta(seconds=35)
            started = finished - run
            if started < created + timedelta(seconds=2):
                # A pod born just now: its first run starts after it was created and ends by "now".
                started = min(created + timedelta(seconds=2), wall)
                finished = min(wall, started + timedelta(seconds=1))
            term: Obj = {
                "exitCode": 1 if outcome == "crashloop" else 137,
                "reason": "Error" if outcome == "crashloop" else "OOMKilled",
                "startedAt": _ts(started),
                "finishedAt": _ts(finished),
                "containerID": cid,
            }
            backoff = "5m0s" if restarts >= 6 else f"{10 * 2 ** (restarts - 1)}s"
            st.update(
                ready=False,
                started=False,
                restartCount=restarts,
                containerID=cid,
                state={
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {backoff} restarting failed container={name} pod={meta['name']}_{meta.get('namespace')}({meta.get('uid')})",
                    }
                },
                lastState={"terminated": term},
            )
        if not st["ready"]:
            not_ready.append(name)
        statuses.append(st)
    ready = not not_ready
    unready_msg = f"containers with unready status: [{' '.join(not_ready)}]"

    def cond(type_: str, ok: bool, when: str) -> Obj:
        c: Obj = {"type": type_, "status": "True" if ok else "False", "lastProbeTime": None, "lastTransitionTime": when}
        if not ok:
            c.update(reason="ContainersNotReady", message=unready_msg)
        return c

    node_obj = cluster.peek("nodes", None, node) or {}
    host_ip = next(
        (a["address"] for a in (node_obj.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"),
        "10.0.1.10",
    )
    pod_ip = cluster.next_ip()
    return {
        "phase": "Pending" if any_pull_failure else "Running",
        "conditions": [
            cond("PodReadyToStartContainers", True, _ts(t_start)),
            cond("Initialized", True, t_sched),
            cond("Ready", ready, _ts(t_start + timedelta(seconds=2))),
            cond("ContainersReady", ready, _ts(t_start + timedelta(seconds=2))),
            cond("PodScheduled", True, t_sched),
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": t_sched,
        "containerStatuses": statuses,
        "qosClass": _qos(spec),
    }


def create_pod(
    cluster: Cluster,
    *,
    namespace: str,
    name: str,
    template: Obj,
    owner: Obj | None,
    extra_labels: dict[str, str] | None = None,
    generate_name: str | None = None,
    node_name: str | None = None,
    spec_extra: Obj | None = None,
) -> Obj:
    tmeta = template.get("metadata") or {}
    meta: Obj = {"name": name, "namespace": namespace, "uid": cluster.uid(), "creationTimestamp": _ts(cluster.now())}
    if generate_name:
        meta["generateName"] = generate_name
    labels = {**(tmeta.get("labels") or {}), **(extra_labels or {})}
    if labels:
        meta["labels"] = labels
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if owner is not None:
        meta["ownerReferences"] = [_owner_ref(owner)]
    spec = copy.deepcopy(template.get("spec") or {})
    _default_pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    spec.setdefault(
        "tolerations",
        [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
    )
    if spec_extra:
        spec.update(spec_extra)
    if node_name:
        spec["nodeName"] = node_name
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    start_pod(cluster, pod)
    return pod


def start_pod(cluster: Cluster, pod: Obj) -> None:
    """Schedule a new pod, give it the status its behaviour scripts, store it and emit its events."""
    node, why = _schedule(cluster, pod)
    if node:
        pod["spec"]["nodeName"] = node
    if node and cluster.live and not cluster.backdate:
        from tools.sandbox.timeflow import starting_status  # live mode: the kubelet finishes it on a later tick

        pod["status"] = starting_status(pod)
    else:
        pod["status"] = build_pod_status(cluster, pod, node, why)
    cluster.store("pods", pod)
    _pod_events(cluster, pod, node, why)


def _kill_pod(cluster: Cluster, pod: Obj) -> None:
    meta = pod["metadata"]
    for st in (pod.get("status") or {}).get("containerStatuses") or []:
        if "running" in (st.get("state") or {}):
            emit(
                cluster,
                pod,
                "Killing",
                f"Stopping container {st['name']}",
                host=pod["spec"].get("nodeName"),
                field_path=f"spec.containers{{{st['name']}}}",
            )
    cluster.remove("pods", meta["namespace"], meta["name"])
