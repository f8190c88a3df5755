"""A tiny controller manager: Deployment -> ReplicaSet -> Pod, StatefulSet and DaemonSet pods, scheduling, the
scripted pod behaviours and the events a real cluster would emit for them.

Everything happens synchronously inside the write that caused it (the cluster lock is held), so a client
that scales a deployment sees the pods in its very next list. Behaviours come from the pod template's
annotations, so they survive scale and restart, and a `rollout undo` to a template without them heals.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tools.sandbox.selectors import selector_from_match_labels

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]

BEHAVIOUR = "sandbox.kubeduty.io/behaviour"  # healthy | crashloop | imagepull | oomkilled | pending
BAD_IMAGE = "sandbox.kubeduty.io/bad-image"  # with imagepull: only this image fails to pull
NEEDS_MEMORY = "sandbox.kubeduty.io/needs-memory"  # with oomkilled: a memory limit >= this heals it
LOG_PROFILE = "sandbox.kubeduty.io/log-profile"  # which scripted log lines the containers print
REVISION = "deployment.kubernetes.io/revision"
_BAD_IMAGE_HINTS = ("typo", "does-not-exist", "doesnotexist", "nonexistent", "notfound")
_HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "m": 0.001,
}
MAX_EVENTS_PER_NAMESPACE = 2000


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str | None) -> datetime | None:
    from tools.sandbox.cluster import parse_ts

    return parse_ts(text)


def quantity(text: Any) -> float:
    m = _QUANTITY.match(str(text or "0"))
    if not m or m.group(2) not in _UNITS:
        return 0.0
    return float(m.group(1)) * _UNITS[m.group(2)]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pruned(value: Any) -> Any:
    """Drop nulls and empty maps/lists, so `creationTimestamp: null` from kubectl does not change the hash."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def template_hash(template: Obj, n: int = 10) -> str:
    canonical = json.dumps(_pruned(template), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return "".join(_HASH_CHARS[b % len(_HASH_CHARS)] for b in digest[:n])


def _annotations(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _controller_uid(obj: Obj) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


# ---- validation and defaults --------------------------------------------------------------------------------


def _validate_pod_spec(spec: Any, prefix: str) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    if not isinstance(spec, dict):
        return [(prefix, "Required value")]
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{prefix}.containers", "Required value")]
    seen: set[str] = set()
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            causes.append((f"{prefix}.containers[{i}]", "Invalid value: must be an object"))
            continue
        name = c.get("name")
        if not name:
            causes.append((f"{prefix}.containers[{i}].name", "Required value"))
        elif not isinstance(name, str) or not _LABEL.match(name) or len(name) > 63:
            causes.append(
                (
                    f"{prefix}.containers[{i}].name",
                    f"Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
                )
            )
        elif name in seen:
            causes.append((f"{prefix}.containers[{i}].name", f'Duplicate value: "{name}"'))
        else:
            seen.add(name)
        if not c.get("image"):
            causes.append((f"{prefix}.containers[{i}].image", "Required value"))
        for j, env in enumerate(c.get("env") or []):
            if not isinstance(env, dict) or not env.get("name"):
                causes.append((f"{prefix}.containers[{i}].env[{j}].name", "Required value"))
    return causes


def _matches_selector(selector: Obj, labels: dict[str, str]) -> bool:
    return selector_from_match_labels(selector)({"metadata": {"labels": labels}})


def validate_spec(kind: str, obj: Obj) -> list[tuple[str, str]]:
    spec = obj.get("spec")
    if kind == "Pod":
        return _validate_pod_spec(spec, "spec")
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        if not isinstance(spec, dict):
            return [("spec", "Required value")]
        causes: list[tuple[str, str]] = []
        replicas = spec.get("replicas", 1)
        if kind != "DaemonSet" and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
            causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
        selector = spec.get("selector")
        if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(("spec.selector", "Required value"))
        template = spec.get("template")
        if not isinstance(template, dict):
            causes.append(("spec.template", "Required value"))
            return causes
        labels = _labels(template)
        if isinstance(selector, dict) and causes == [] and not _matches_selector(selector, labels):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: {json.dumps(labels)}: `selector` does not match template `labels`",
                )
            )
        causes.extend(_validate_pod_spec(template.get("spec"), "spec.template.spec"))
        return causes
    if kind == "ConfigMap":
        return [
            (f"data[{k}]", "Invalid value: must be a string")
            for k, v in (obj.get("data") or {}).items()
            if not isinstance(v, str)
        ]
    if kind == "Event" and not isinstance(obj.get("involvedObject"), dict):
        return [("involvedObject", "Required value")]
    return []


def immutable_changes(kind: str, current: Obj, new: Obj) -> list[tuple[str, str]]:
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        old_sel = (current.get("spec") or {}).get("selector")
        new_sel = (new.get("spec") or {}).get("selector")
        if old_sel != new_sel:
            return [("spec.selector", f"Invalid value: {json.dumps(new_sel)}: field is immutable")]
    if kind == "Pod":

        def strip(spec: Obj) -> Obj:
            s = copy.deepcopy(spec)
            for c in s.get("containers") or []:
                c.pop("image", None)
            for k in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
                s.pop(k, None)
            return s

        if strip(current.get("spec") or {}) != strip(new.get("spec") or {}):
            return [
                (
                    "spec",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
                    "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only "
                    "additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set "
                    "to 1 if it was previously negative)",
                )
            ]
    if kind == "Service":
        old_ip = (current.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if old_ip and new_ip and old_ip != new_ip:
            return [("spec.clusterIP", f'Invalid value: "{new_ip}": field is immutable')]
    return []


def _default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for c in spec.get("containers") or []:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image") or "")
        tag = image.rsplit("/", 1)[-1]
        latest = ":" not in tag or tag.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest and "@" not in image else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def apply_defaults(cluster: Cluster, kind: str, obj: Obj) -> None:
    spec = obj.get("spec")
    meta = obj["metadata"]
    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
    elif kind == "Pod" and isinstance(spec, dict):
        _default_pod_spec(spec)
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet") and isinstance(spec, dict):
        if kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault(
                "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
            )
            spec.setdefault("progressDeadlineSeconds", 600)
        elif kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
            spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        elif kind == "DaemonSet":
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
            )
        template = spec.get("template")
        if isinstance(template, dict):
            template.setdefault("metadata", {})
            if isinstance(template.get("spec"), dict):
                _default_pod_spec(template["spec"])
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if not spec.get("clusterIP"):
            n = int(_sha(f"{meta.get('namespace')}/{meta.get('name')}")[:6], 16)
            spec["clusterIP"] = f"10.96.{n % 250}.{(n >> 8) % 250 + 2}"
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()


# ---- events -----------------------------------------------------------------------------------------------


def emit(
    cluster: Cluster,
    involved: Obj,
    reason: str,
    message: str,
    *,
    type_: str = "Normal",
    component: str = "kubelet",
    host: str | None = None,
    count: int = 1,
    first: datetime | None = None,
    last: datetime | None = None,
    field_path: str | None = None,
) -> None:
    if not cluster.emit_events:
        return
    meta = involved["metadata"]
    ns = meta.get("namespace") or "default"
    now = cluster.now()
    first = first or now
    last = last or first
    ref: Obj = {
        "apiVersion": involved.get("apiVersion", "v1"),
        "kind": involved.get("kind"),
        "name": meta["name"],
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    source: Obj = {"component": component}
    if host:
        source["host"] = host
    event: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{cluster.rng.getrandbits(64):016x}",
            "namespace": ns,
            "uid": cluster.uid(),
            "creationTimestamp": _ts(first),
        },
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": _ts(first),
        "lastTimestamp": _ts(last),
        "count": count,
        "type": type_,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }
    cluster.store("events", event)
    if cluster.count("events", ns) > MAX_EVENTS_PER_NAMESPACE:
        # Real clusters expire events after an hour; here the oldest go once a namespace holds too many.
        existing = cluster.objects("events", ns)
        oldest: list[Obj] = sorted(existing, key=lambda e: (e.get("lastTimestamp") or "", e["metadata"]["name"]))
        for e in oldest[: len(existing) - MAX_EVENTS_PER_NAMESPACE]:
            cluster.remove("events", ns, e["metadata"]["name"])


# ---- pods -------------------------------------------------------------------------------------------------


def image_id(image: str) -> str:
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    if "/" not in repo:
        repo = f"docker.io/library/{repo}"
    elif "." not in repo.split("/", 1)[0] and ":" not in repo.split("/", 1)[0]:
        repo = f"docker.io/{repo}"
    return f"{repo}@sha256:{_sha(image)}"


def image_is_bad(image: str, annotations: dict[str, str]) -> bool:
    if any(h in image for h in _BAD_IMAGE_HINTS):
        return True
    if annotations.get(BEHAVIOUR) == "imagepull":
        bad = annotations.get(BAD_IMAGE)
        return bad is None or bad == image
    return False


def _memory_limit(container: Obj) -> float:
    res = container.get("resources") or {}
    return quantity((res.get("limits") or {}).get("memory"))


def _memory_request(spec: Obj) -> float:
    total = 0.0
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        total += quantity((res.get("requests") or {}).get("memory") or (res.get("limits") or {}).get("memory"))
    return total


def _qos(spec: Obj) -> str:
    any_set = False
    guaranteed = True
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim.get(r)) != lim.get(r):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


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


def _pod_events(cluster: Cluster, pod: Obj, node: str | None, unschedulable_msg: str) -> None:
    meta = pod["metadata"]
    created = _parse(meta.get("creationTimestamp")) or cluster.now()
    wall = cluster.wall()
    if node is None:
        emit(
            cluster,
            pod,
            "FailedScheduling",
            unschedulable_msg,
            type_="Warning",
            component="default-scheduler",
            first=created,
            last=max(created, wall - timedelta(seconds=50)),
            count=1,
        )
        return
    emit(
        cluster,
        pod,
        "Scheduled",
        f"Successfully assigned {meta.get('namespace')}/{meta['name']} to {node}",
        component="default-scheduler",
        first=created,
    )
    for st in pod["status"].get("containerStatuses") or []:
        name, image = st["name"], st["image"]
        fp = f"spec.containers{{{name}}}"
        t0 = created + timedelta(seconds=2)
        if "waiting" in st["state"] and st["state"]["waiting"]["reason"] == "ImagePullBackOff":
            ref = image
            last = max(t0, wall - timedelta(seconds=20))
            n = max(2, min(int((wall - created).total_seconds() // 300) + 2, 40))
            emit(
                cluster,
                pod,
                "Pulling",
                f'Pulling image "{image}"',
                host=node,
                first=t0,
                last=last,
                count=n,
                field_path=fp,
            )
            emit(
                cluster,
                pod,
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image '
                f'"{ref}": failed to resolve reference "{ref}": {ref}: not found',
                type_="Warning",
                host=node,
                first=t0,
                last=last,
                count=n,
                field_path=fp,
            )
            emit(
                cluster,
                pod,
                "Failed",
                "Error: ErrImagePull",
                type_="Warning",
                host=node,
                first=t0,
                last=last,
                count=n,
                field_path=fp,
            )
            emit(
                cluster,
                pod,
                "BackOff",
                f'Back-off pulling image "{image}"',
                host=node,
                first=t0,
                last=last,
                count=n * 5,
                field_path=fp,
            )
            emit(
                cluster,
                pod,
                "Failed",
                "Error: ImagePullBackOff",
                type_="Warning",
                host=node,
                first=t0,
                last=last,
                count=n * 5,
                field_path=fp,
            )
            continue
        restarts = int(st.get("restartCount", 0))
        last = max(t0, wall - timedelta(seconds=40)) if restarts else t0
        emit(
            cluster,
            pod,
            "Pulled",
            f'Container image "{image}" already present on machine',
            host=node,
            first=t0,
            last=last,
            count=restarts + 1,
            field_path=fp,
        )
        emit(
            cluster,
            pod,
            "Created",
            f"Created container: {name}",
            host=node,
            first=t0,
            last=last,
            count=restarts + 1,
            field_path=fp,
        )
        emit(
            cluster,
            pod,
            "Started",
            f"Started container {name}",
            host=node,
            first=t0,
            last=last,
            count=restarts + 1,
            field_path=fp,
        )
        if restarts:
            emit(
                cluster,
                pod,
                "BackOff",
                f"Back-off restarting failed container {name} in pod {meta['name']}_{meta.get('namespace')}({meta.get('uid')})",
                type_="Warning",
                host=node,
                first=t0 + timedelta(seconds=30),
                last=max(t0, wall - timedelta(seconds=10)),
                count=restarts * 4,
                field_path=fp,
            )
            term = (st.get("lastState") or {}).get("terminated") or {}
            node_obj = cluster.peek("nodes", None, node)
            if term.get("reason") == "OOMKilled" and node_obj is not None:
                pid = 4000 + int(_sha(meta["name"])[:4], 16) % 5000
                emit(
                    cluster,
                    node_obj,  # node events live in "default", as in a real cluster
                    "OOMKilling",
                    f"Memory cgroup out of memory: Killed process {pid} ({name}) total-vm:1843212kB, "
                    f"anon-rss:{int(_memory_limit(_container(pod, name)) // 1024) or 262144}kB, file-rss:0kB, "
                    "shmem-rss:0kB, UID:1000 pgtables:1220kB oom_score_adj:984",
                    type_="Warning",
                    component="kernel-monitor",
                    host=node,
                    first=t0 + timedelta(seconds=90),
                    last=max(t0, wall - timedelta(seconds=35)),
                    count=restarts,
                )


def _container(pod: Obj, name: str) -> Obj:
    return next((c for c in pod["spec"].get("containers") or [] if c.get("name") == name), {})


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


# ---- reconciliation -----------------------------------------------------------------------------------------


def _put_if_changed(cluster: Cluster, plural: str, current: Obj, new: Obj) -> Obj:
    if new != current:
        return cluster.store(plural, new)
    return current


def _revision(obj: Obj) -> int:
    try:
        return int(_annotations(obj).get(REVISION, "0"))
    except ValueError:
        return 0


def _pod_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


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
    new_ready = 0
    if cluster.live:
        new_uid = new_rs["metadata"]["uid"]
        new_ready = sum(1 for p in cluster.objects("pods", ns) if _controller_uid(p) == new_uid and _pod_ready(p))
    for rs in owned:
        want = desired if rs is new_rs else 0
        have = int(rs["spec"].get("replicas", 0))
        if cluster.live and rs is not new_rs:
            # Live rollouts: old pods keep serving until new ones are ready (never scaled back up).
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
            after_delete(cluster, "replicasets", removed, orphan=False, reconcile=False)
    rev = str(_revision(cluster.peek("replicasets", ns, new_rs["metadata"]["name"]) or new_rs))
    if _annotations(d).get(REVISION) != rev:
        nd = copy.deepcopy(cluster.peek("deployments", ns, meta["name"]) or d)
        nd["metadata"].setdefault("annotations", {})[REVISION] = rev
        cluster.store("deployments", nd)


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


def _revision_hash(obj: Obj) -> str:
    return f"{obj['metadata']['name']}-{template_hash(obj['spec']['template'])}"


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
