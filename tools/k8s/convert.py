"""Pure conversions from Kubernetes API JSON (camelCase dicts, as the server sends them) to the result models.

No I/O here: the read tools fetch, these functions shape. Status strings follow `kubectl get pods` (printPod).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tools.k8s.models import (
    Condition,
    ContainerBrief,
    ContainerDetail,
    DeploymentInfo,
    EnvVarInfo,
    EventInfo,
    NodeInfo,
    PodSummary,
    ServiceInfo,
)
from tools.redact import MASK, mask_text, mask_value

Obj = dict[str, Any]

MAX_TEXT = 500  # characters of one message/detail field
TRUNC = " …[truncated]"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNC


def parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def age_seconds(value: Any, now: datetime | None = None) -> int | None:
    ts = parse_time(value)
    if ts is None:
        return None
    now = now or datetime.now(UTC)
    return max(0, int((now - ts).total_seconds()))


def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _d(obj: Any, key: str) -> Obj:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, dict) else {}


def _l(obj: Any, key: str) -> list[Any]:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, list) else []


# ---------------------------------------------------------------- pods
def pod_status(pod: Obj) -> str:
    """The STATUS column of `kubectl get pods` (kubectl's printPod, simplified where it does not matter)."""
    status = _d(pod, "status")
    spec = _d(pod, "spec")
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    initializing = False
    inits = _l(status, "initContainerStatuses")
    for i, cs in enumerate(inits):
        state = _d(cs, "state")
        term = _d(state, "terminated")
        wait = _d(state, "waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            if term.get("reason"):
                reason = "Init:" + str(term["reason"])
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode')}"
        elif wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + str(wait["reason"])
        else:
            reason = f"Init:{i}/{len(_l(spec, 'initContainers')) or len(inits)}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(_l(status, "containerStatuses")):
            state = _d(cs, "state")
            term = _d(state, "terminated")
            wait = _d(state, "waiting")
            if wait.get("reason"):
                reason = str(wait["reason"])
            elif term.get("reason"):
                reason = str(term["reason"])
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif cs.get("ready") and "running" in state:
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _condition_true(status: Obj, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in _l(status, "conditions"))


def condition(status: Obj, ctype: str) -> Obj:
    for c in _l(status, "conditions"):
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return {}


def container_briefs(pod: Obj) -> list[ContainerBrief]:
    out = []
    for cs in _l(_d(pod, "status"), "containerStatuses"):
        state = _d(cs, "state")
        kind = next(iter(state), "") if state else ""
        inner = _d(state, kind) if kind else {}
        last = last_termination(cs)
        code = last.get("exitCode")
        out.append(
            ContainerBrief(
                name=str(cs.get("name") or ""),
                ready=bool(cs.get("ready")),
                restarts=int(cs.get("restartCount") or 0),
                state=kind,
                reason=str(inner.get("reason") or ""),
                last_reason=str(last.get("reason") or ""),
                last_exit_code=code if isinstance(code, int) else None,
            )
        )
    return out


def owner_of(obj: Obj) -> tuple[str, str] | None:
    refs = _l(meta(obj), "ownerReferences")
    chosen = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if not chosen:
        return None
    return str(chosen.get("kind") or ""), str(chosen.get("name") or "")


def workload_of(pod: Obj) -> str | None:
    """The Deployment/StatefulSet/DaemonSet/Job behind a pod; a ReplicaSet maps to its Deployment by name."""
    owner = owner_of(pod)
    if owner is None:
        return None
    kind, name = owner
    if kind == "ReplicaSet":
        h = str(_d(meta(pod), "labels").get("pod-template-hash") or "")
        if h and name.endswith("-" + h):
            return f"Deployment/{name[: -len(h) - 1]}"
        return f"ReplicaSet/{name}"
    return f"{kind}/{name}"


def pod_healthy(pod: Obj, status: str | None = None) -> bool:
    st = _d(pod, "status")
    phase = st.get("phase")
    if phase == "Succeeded":
        return True
    if phase != "Running" or meta(pod).get("deletionTimestamp"):
        return False
    if (status or pod_status(pod)) not in ("Running", "Completed"):
        return False
    statuses = _l(st, "containerStatuses")
    return bool(statuses) and all(cs.get("ready") for cs in statuses)


def last_termination(cs: Obj) -> Obj:
    return _d(_d(cs, "lastState"), "terminated")


def problem_reason(pod: Obj, status: str) -> str:
    """The reason an on-duty engineer wants for an unhealthy pod: kubectl's STATUS, made precise for
    unschedulable pods (kubectl says only Pending) and for containers killed for memory."""
    st = _d(pod, "status")
    sched = condition(st, "PodScheduled")
    if status == "Pending" and sched.get("status") == "False" and sched.get("reason"):
        return str(sched["reason"])
    for cs in _l(st, "containerStatuses"):
        if last_termination(cs).get("reason") == "OOMKilled" and status in ("CrashLoopBackOff", "Running", "Error"):
            return "OOMKilled"
    return status


def pod_message(pod: Obj) -> str:
    st = _d(pod, "status")
    for cs in _l(st, "containerStatuses"):
        state = _d(cs, "state")
        for kind in ("waiting", "terminated"):
            msg = _d(state, kind).get("message")
            if msg:
                return clip(mask_text(str(msg)))
    sched = condition(st, "PodScheduled")
    if sched.get("status") == "False" and sched.get("message"):
        return clip(mask_text(str(sched["message"])))
    return clip(mask_text(str(st.get("message") or "")))


def pod_summary(pod: Obj, now: datetime | None = None) -> PodSummary:
    m = meta(pod)
    st = _d(pod, "status")
    status = pod_status(pod)
    statuses = _l(st, "containerStatuses")
    total = len(_l(_d(pod, "spec"), "containers")) or len(statuses)
    ready = sum(1 for cs in statuses if cs.get("ready"))
    owner = owner_of(pod)
    return PodSummary(
        namespace=str(m.get("namespace") or ""),
        name=str(m.get("name") or ""),
        phase=str(st.get("phase") or "Unknown"),
        status=status,
        ready=f"{ready}/{total}",
        restarts=sum(int(cs.get("restartCount") or 0) for cs in statuses),
        age_seconds=age_seconds(m.get("creationTimestamp"), now),
        node=_d(pod, "spec").get("nodeName"),
        owner=f"{owner[0]}/{owner[1]}" if owner else None,
        workload=workload_of(pod),
        containers=container_briefs(pod),
        healthy=pod_healthy(pod, status),
        message=pod_message(pod),
    )


def env_vars(container: Obj) -> list[EnvVarInfo]:
    """Env of a container: plain values masked when credential-looking, references shown, never resolved."""
    out: list[EnvVarInfo] = []
    for e in _l(container, "env"):
        name = str(e.get("name") or "")
        vf = _d(e, "valueFrom")
        if vf:
            if "secretKeyRef" in vf:
                ref = _d(vf, "secretKeyRef")
                out.append(EnvVarInfo(name=name, source=f"secretKeyRef {ref.get('name', '')}/{ref.get('key', '')}"))
            elif "configMapKeyRef" in vf:
                ref = _d(vf, "configMapKeyRef")
                out.append(EnvVarInfo(name=name, source=f"configMapKeyRef {ref.get('name', '')}/{ref.get('key', '')}"))
            elif "fieldRef" in vf:
                out.append(EnvVarInfo(name=name, source=f"fieldRef {_d(vf, 'fieldRef').get('fieldPath', '')}"))
            elif "resourceFieldRef" in vf:
                out.append(
                    EnvVarInfo(name=name, source=f"resourceFieldRef {_d(vf, 'resourceFieldRef').get('resource', '')}")
                )
            else:
                out.append(EnvVarInfo(name=name, source=next(iter(vf))))
        else:
            out.append(EnvVarInfo(name=name, value=clip(mask_value(name, str(e.get("value") or "")))))
    for ef in _l(container, "envFrom"):
        prefix = str(ef.get("prefix") or "")
        if "secretRef" in ef:
            out.append(EnvVarInfo(name=f"{prefix}*", source=f"secretRef {_d(ef, 'secretRef').get('name', '')}"))
        elif "configMapRef" in ef:
            out.append(EnvVarInfo(name=f"{prefix}*", source=f"configMapRef {_d(ef, 'configMapRef').get('name', '')}"))
    return out


def _state_text(state: Obj) -> tuple[str, str, str, int | None]:
    kind = next(iter(state), "") if state else ""
    inner = _d(state, kind) if kind else {}
    code = inner.get("exitCode")
    return (
        kind,
        str(inner.get("reason") or ""),
        str(inner.get("message") or ""),
        code if isinstance(code, int) else None,
    )


def container_details(pod: Obj) -> list[ContainerDetail]:
    statuses = {str(cs.get("name")): cs for cs in _l(_d(pod, "status"), "containerStatuses")}
    out = []
    for c in _l(_d(pod, "spec"), "containers"):
        name = str(c.get("name") or "")
        cs = statuses.get(name, {})
        kind, reason, message, code = _state_text(_d(cs, "state"))
        lkind, lreason, _lmsg, lcode = _state_text(_d(cs, "lastState"))
        last = ""
        if lkind:
            last = f"{lkind}: {lreason or '-'}" + (f" (exit {lcode})" if lcode is not None else "")
        res = _d(c, "resources")
        out.append(
            ContainerDetail(
                name=name,
                image=str(c.get("image") or ""),
                ready=bool(cs.get("ready")),
                restarts=int(cs.get("restartCount") or 0),
                state=kind,
                reason=reason,
                message=clip(mask_text(message)),
                exit_code=code,
                last_state=last,
                env=env_vars(c),
                requests={str(k): str(v) for k, v in _d(res, "requests").items()},
                limits={str(k): str(v) for k, v in _d(res, "limits").items()},
            )
        )
    return out


def conditions(status: Obj) -> list[Condition]:
    return [
        Condition(
            type=str(c.get("type") or ""),
            status=str(c.get("status") or ""),
            reason=str(c.get("reason") or ""),
            message=clip(mask_text(str(c.get("message") or ""))),
        )
        for c in _l(status, "conditions")
    ]


_DROPPED_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration"}  # a full copy of the spec, env included


def safe_annotations(annotations: Any) -> dict[str, str]:
    out = {}
    for k, v in (annotations or {}).items():
        key = str(k)
        out[key] = "(omitted)" if key in _DROPPED_ANNOTATIONS else clip(mask_value(key, str(v)), 300)
    return out


# ---------------------------------------------------------------- events
def event_time(ev: Obj) -> datetime | None:
    series = _d(ev, "series")
    for value in (
        ev.get("lastTimestamp"),
        series.get("lastObservedTime"),
        ev.get("eventTime"),
        ev.get("firstTimestamp"),
        meta(ev).get("creationTimestamp"),
    ):
        ts = parse_time(value)
        if ts is not None:
            return ts
    return None


def event_info(ev: Obj, now: datetime | None = None) -> EventInfo:
    io = _d(ev, "involvedObject")
    ts = event_time(ev)
    now = now or datetime.now(UTC)
    count = ev.get("count") or _d(ev, "series").get("count") or 1
    return EventInfo(
        namespace=str(meta(ev).get("namespace") or io.get("namespace") or ""),
        type=str(ev.get("type") or "Normal"),
        reason=str(ev.get("reason") or ""),
        object=f"{io.get('kind', '')}/{io.get('name', '')}",
        message=clip(mask_text(str(ev.get("message") or ""))),
        count=int(count),
        last_seen_seconds=max(0, int((now - ts).total_seconds())) if ts else None,
    )


def sort_events_newest_first(events: list[Obj]) -> list[Obj]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda e: event_time(e) or epoch, reverse=True)


# ---------------------------------------------------------------- workloads, services, nodes
def revision_of(obj: Obj) -> int | None:
    raw = _d(meta(obj), "annotations").get(REVISION_ANNOTATION)
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def template_images(obj: Obj) -> list[str]:
    tpl = _d(_d(obj, "spec"), "template")
    return [str(c.get("image") or "") for c in _l(_d(tpl, "spec"), "containers")]


def deployment_info(dep: Obj, now: datetime | None = None) -> DeploymentInfo:
    m = meta(dep)
    spec = _d(dep, "spec")
    st = _d(dep, "status")
    desired = spec.get("replicas")
    desired = 1 if desired is None else int(desired)
    ready = int(st.get("readyReplicas") or 0)
    available = int(st.get("availableReplicas") or 0)
    updated = int(st.get("updatedReplicas") or 0)
    return DeploymentInfo(
        namespace=str(m.get("namespace") or ""),
        name=str(m.get("name") or ""),
        desired=desired,
        ready=ready,
        updated=updated,
        available=available,
        images=template_images(dep),
        revision=revision_of(dep),
        age_seconds=age_seconds(m.get("creationTimestamp"), now),
        healthy=ready >= desired and available >= desired,
    )


def service_info(svc: Obj) -> ServiceInfo:
    m = meta(svc)
    spec = _d(svc, "spec")
    ports = []
    for p in _l(spec, "ports"):
        text = f"{p.get('port')}/{p.get('protocol') or 'TCP'}"
        target = p.get("targetPort")
        if target is not None and target != p.get("port"):
            text += f"->{target}"
        if p.get("nodePort"):
            text += f" (node {p['nodePort']})"
        ports.append(text)
    return ServiceInfo(
        namespace=str(m.get("namespace") or ""),
        name=str(m.get("name") or ""),
        type=str(spec.get("type") or "ClusterIP"),
        cluster_ip=spec.get("clusterIP"),
        ports=ports,
        selector={str(k): str(v) for k, v in _d(spec, "selector").items()},
    )


def node_info(node: Obj) -> NodeInfo:
    m = meta(node)
    st = _d(node, "status")
    labels = _d(m, "labels")
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k)
    cap = _d(st, "capacity")
    pods = cap.get("pods")
    try:
        pods_n = int(pods) if pods is not None else None
    except (TypeError, ValueError):
        pods_n = None
    return NodeInfo(
        name=str(m.get("name") or ""),
        ready=condition(st, "Ready").get("status") == "True",
        unschedulable=bool(_d(node, "spec").get("unschedulable")),
        roles=roles,
        version=str(_d(st, "nodeInfo").get("kubeletVersion") or ""),
        cpu=str(cap.get("cpu") or ""),
        memory=str(cap.get("memory") or ""),
        pods=pods_n,
    )


__all__ = [
    "MASK",
    "clip",
    "pod_summary",
    "pod_status",
    "event_info",
    "deployment_info",
    "service_info",
    "node_info",
]
