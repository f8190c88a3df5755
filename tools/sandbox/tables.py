"""Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as `kubectl get` shows it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tools.sandbox.cluster import parse_ts

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj, datetime], Any]]  # name, type, priority, cell


def human_age(then: str | None, now: datetime) -> str:
    """Like k8s.io/apimachinery duration.HumanDuration."""
    t = parse_ts(then)
    if t is None:
        return "<unknown>"
    s = int((now - t).total_seconds())
    if s < 0:
        s = 0
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def _age(o: Obj, now: datetime) -> str:
    return human_age(o["metadata"].get("creationTimestamp"), now)


def _name(o: Obj, now: datetime) -> str:
    return str(o["metadata"]["name"])


def pod_status_reason(pod: Obj) -> str:
    """The STATUS column, following kubectl's printPod."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    has_running = False
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            t = state["terminated"]
            reason = t.get("reason") or (
                f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode')}"
            )
        elif "running" in state and cs.get("ready"):
            has_running = True
    if reason == "Completed" and has_running:
        reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_ready(o: Obj, now: datetime) -> str:
    statuses = (o.get("status") or {}).get("containerStatuses") or []
    total = len((o.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_restarts(o: Obj, now: datetime) -> str:
    statuses = (o.get("status") or {}).get("containerStatuses") or []
    total = sum(int(s.get("restartCount", 0)) for s in statuses)
    last = max(
        (str((s.get("lastState") or {}).get("terminated", {}).get("finishedAt") or "") for s in statuses), default=""
    )
    if total and last:
        return f"{total} ({human_age(last, now)} ago)"
    return str(total)


def _node_status(o: Obj, now: datetime) -> str:
    conds = {c.get("type"): c.get("status") for c in (o.get("status") or {}).get("conditions") or []}
    text = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(o: Obj, now: datetime) -> str:
    roles = sorted(
        k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {}) if k.startswith("node-role.kubernetes.io/")
    )
    return ",".join(roles) or "<none>"


def _images(o: Obj, field: str) -> str:
    spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
    return ",".join(str(c.get(field, "")) for c in spec.get("containers") or [])


def _selector(o: Obj, now: datetime) -> str:
    sel = ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>"


def _st(o: Obj, key: str) -> int:
    return int((o.get("status") or {}).get(key) or 0)


def _svc_ports(o: Obj, now: datetime) -> str:
    parts = []
    for p in (o.get("spec") or {}).get("ports") or []:
        s = str(p.get("port"))
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        parts.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _event_object(o: Obj, now: datetime) -> str:
    io = o.get("involvedObject") or {}
    return f"{str(io.get('kind', '')).lower()}/{io.get('name', '')}"


def _event_last_seen(o: Obj, now: datetime) -> str:
    return human_age(o.get("lastTimestamp") or o.get("firstTimestamp") or o["metadata"].get("creationTimestamp"), now)


NAME: Column = ("Name", "string", 0, _name)
AGE: Column = ("Age", "string", 0, _age)

COLUMNS: dict[str, list[Column]] = {
    "pods": [
        NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, lambda o, n: pod_status_reason(o)),
        ("Restarts", "string", 0, _pod_restarts),
        AGE,
        ("IP", "string", 1, lambda o, n: (o.get("status") or {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda o, n: (o.get("spec") or {}).get("nodeName") or "<none>"),
        ("Nominated Node", "string", 1, lambda o, n: "<none>"),
        ("Readiness Gates", "string", 1, lambda o, n: "<none>"),
    ],
    "deployments": [
        NAME,
        ("Ready", "string", 0, lambda o, n: f"{_st(o, 'readyReplicas')}/{(o.get('spec') or {}).get('replicas', 0)}"),
        ("Up-to-date", "integer", 0, lambda o, n: _st(o, "updatedReplicas")),
        ("Available", "integer", 0, lambda o, n: _st(o, "availableReplicas")),
        AGE,
        ("Containers", "string", 1, lambda o, n: _images(o, "name")),
        ("Images", "string", 1, lambda o, n: _images(o, "image")),
        ("Selector", "string", 1, _selector),
    ],
    "replicasets": [
        NAME,
        ("Desired", "integer", 0, lambda o, n: int((o.get("spec") or {}).get("replicas", 0))),
        ("Current", "integer", 0, lambda o, n: _st(o, "replicas")),
        ("Ready", "integer", 0, lambda o, n: _st(o, "readyReplicas")),
        AGE,
        ("Containers", "string", 1, lambda o, n: _images(o, "name")),
        ("Images", "string", 1, lambda o, n: _images(o, "image")),
        ("Selector", "string", 1, _selector),
    ],
    "statefulsets": [
        NAME,
        ("Ready", "string", 0, lambda o, n: f"{_st(o, 'readyReplicas')}/{(o.get('spec') or {}).get('replicas', 0)}"),
        AGE,
        ("Containers", "string", 1, lambda o, n: _images(o, "name")),
        ("Images", "string", 1, lambda o, n: _images(o, "image")),
    ],
    "daemonsets": [
        NAME,
        ("Desired", "integer", 0, lambda o, n: _st(o, "desiredNumberScheduled")),
        ("Current", "integer", 0, lambda o, n: _st(o, "currentNumberScheduled")),
        ("Ready", "integer", 0, lambda o, n: _st(o, "numberReady")),
        ("Up-to-date", "integer", 0, lambda o, n: _st(o, "updatedNumberScheduled")),
        ("Available", "integer", 0, lambda o, n: _st(o, "numberAvailable")),
        (
            "Node Selector",
            "string",
            0,
            lambda o, n: (
                ",".join(
                    f"{k}={v}"
                    for k, v in (
                        (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
                    ).items()
                )
                or "<none>"
            ),
        ),
        AGE,
    ],
    "nodes": [
        NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _node_roles),
        AGE,
        (
            "Version",
            "string",
            0,
            lambda o, n: ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", ""),
        ),
        (
            "Internal-IP",
            "string",
            1,
            lambda o, n: next(
                (a["address"] for a in (o.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"),
                "<none>",
            ),
        ),
        ("OS-Image", "string", 1, lambda o, n: ((o.get("status") or {}).get("nodeInfo") or {}).get("osImage", "")),
    ],
    "namespaces": [NAME, ("Status", "string", 0, lambda o, n: (o.get("status") or {}).get("phase", "Active")), AGE],
    "services": [
        NAME,
        ("Type", "string", 0, lambda o, n: (o.get("spec") or {}).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o, n: (o.get("spec") or {}).get("clusterIP") or "<none>"),
        ("External-IP", "string", 0, lambda o, n: "<none>"),
        ("Port(s)", "string", 0, _svc_ports),
        AGE,
        (
            "Selector",
            "string",
            1,
            lambda o, n: (
                ",".join(f"{k}={v}" for k, v in ((o.get("spec") or {}).get("selector") or {}).items()) or "<none>"
            ),
        ),
    ],
    "events": [
        ("Last Seen", "string", 0, _event_last_seen),
        ("Type", "string", 0, lambda o, n: o.get("type", "")),
        ("Reason", "string", 0, lambda o, n: o.get("reason", "")),
        ("Object", "string", 0, _event_object),
        ("Subobject", "string", 1, lambda o, n: (o.get("involvedObject") or {}).get("fieldPath", "")),
        (
            "Source",
            "string",
            1,
            lambda o, n: ", ".join(
                str(v) for v in ((o.get("source") or {}).get("component"), (o.get("source") or {}).get("host")) if v
            ),
        ),
        ("Message", "string", 0, lambda o, n: o.get("message", "")),
        ("First Seen", "string", 1, lambda o, n: human_age(o.get("firstTimestamp"), n)),
        ("Count", "string", 1, lambda o, n: str(o.get("count", 1))),
        ("Name", "string", 1, _name),
    ],
    "configmaps": [
        NAME,
        ("Data", "integer", 0, lambda o, n: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        AGE,
    ],
    "secrets": [
        NAME,
        ("Type", "string", 0, lambda o, n: o.get("type", "Opaque")),
        ("Data", "integer", 0, lambda o, n: len(o.get("data") or {})),
        AGE,
    ],
}


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _job_completions(o: Obj, now: datetime) -> str:
    return f"{_status(o).get('succeeded', 0)}/{_spec(o).get('completions', 1)}"


def _job_status(o: Obj, now: datetime) -> str:
    conds = {c.get("type") for c in _status(o).get("conditions") or [] if c.get("status") == "True"}
    return "Complete" if "Complete" in conds else "Failed" if "Failed" in conds else "Running"


def _hpa_targets(o: Obj, now: datetime) -> str:
    current: Obj = next(iter(_status(o).get("currentMetrics") or []), {})
    target: Obj = next(iter(_spec(o).get("metrics") or []), {})
    have = ((current.get("resource") or {}).get("current") or {}).get("averageUtilization")
    want = ((target.get("resource") or {}).get("target") or {}).get("averageUtilization")
    return f"cpu: {have if have is not None else '<unknown>'}%/{want if want is not None else 80}%"


def _endpoints(o: Obj, now: datetime) -> str:
    pairs = [
        f"{a.get('ip')}:{p.get('port')}"
        for s in o.get("subsets") or []
        for a in s.get("addresses") or []
        for p in s.get("ports") or [{}]
    ]
    if not pairs:
        return "<none>"
    return ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")


def _ingress_hosts(o: Obj, now: datetime) -> str:
    hosts = [str(r.get("host")) for r in _spec(o).get("rules") or [] if r.get("host")]
    return ",".join(hosts) or "*"


COLUMNS.update(
    {
        "jobs": [
            NAME,
            ("Status", "string", 0, _job_status),
            ("Completions", "string", 0, _job_completions),
            ("Duration", "string", 0, lambda o, n: "0s" if _status(o).get("completionTime") else _age(o, n)),
            AGE,
        ],
        "cronjobs": [
            NAME,
            ("Schedule", "string", 0, lambda o, n: str(_spec(o).get("schedule", ""))),
            ("Timezone", "string", 0, lambda o, n: str(_spec(o).get("timeZone") or "<none>")),
            ("Suspend", "boolean", 0, lambda o, n: bool(_spec(o).get("suspend", False))),
            ("Active", "integer", 0, lambda o, n: len(_status(o).get("active") or [])),
            ("Last Schedule", "string", 0, lambda o, n: human_age(_status(o).get("lastScheduleTime"), n)),
            AGE,
        ],
        "horizontalpodautoscalers": [
            NAME,
            (
                "Reference",
                "string",
                0,
                lambda o, n: (
                    f"{_spec(o).get('scaleTargetRef', {}).get('kind')}/{_spec(o).get('scaleTargetRef', {}).get('name')}"
                ),
            ),
            ("Targets", "string", 0, _hpa_targets),
            ("MinPods", "string", 0, lambda o, n: str(_spec(o).get("minReplicas", 1))),
            ("MaxPods", "integer", 0, lambda o, n: int(_spec(o).get("maxReplicas", 0))),
            ("Replicas", "integer", 0, lambda o, n: int(_status(o).get("currentReplicas", 0))),
            AGE,
        ],
        "ingresses": [
            NAME,
            ("Class", "string", 0, lambda o, n: str(_spec(o).get("ingressClassName") or "<none>")),
            ("Hosts", "string", 0, _ingress_hosts),
            ("Address", "string", 0, lambda o, n: ""),
            ("Ports", "string", 0, lambda o, n: "443, 80" if _spec(o).get("tls") else "80"),
            AGE,
        ],
        "persistentvolumeclaims": [
            NAME,
            ("Status", "string", 0, lambda o, n: str(_status(o).get("phase") or "Pending")),
            ("Volume", "string", 0, lambda o, n: str(_spec(o).get("volumeName") or "")),
            ("Capacity", "string", 0, lambda o, n: str((_status(o).get("capacity") or {}).get("storage") or "")),
            ("Access Modes", "string", 0, lambda o, n: ",".join(_spec(o).get("accessModes") or [])),
            ("StorageClass", "string", 0, lambda o, n: str(_spec(o).get("storageClassName") or "<unset>")),
            AGE,
        ],
        "endpoints": [NAME, ("Endpoints", "string", 0, _endpoints), AGE],
    }
)


def column_definitions(plural: str) -> list[Obj]:
    cols = COLUMNS.get(plural, [NAME, AGE])
    return [
        {
            "name": name,
            "type": type_,
            "format": "name" if name == "Name" else "",
            "description": f"{name} of the object" if name != "Name" else "Name must be unique within a namespace.",
            "priority": prio,
        }
        for name, type_, prio, _ in cols
    ]


def row(plural: str, obj: Obj, now: datetime, include: str) -> Obj:
    cols = COLUMNS.get(plural, [NAME, AGE])
    r: Obj = {"cells": [cell(obj, now) for _, _, _, cell in cols]}
    if include == "Object":
        r["object"] = obj
    elif include != "None":
        r["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }
    return r
