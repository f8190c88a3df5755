"""`GET /metrics` of the sandbox: its objects in kube-state-metrics and cAdvisor format, plus per-service
request/error counters, so a real Prometheus can scrape it and real alerting rules can fire.

Derived from the objects on every scrape (nothing stored): an OOM-killed container's working set sits at its
limit, a healthy one well below; a service whose pods are not ready answers errors. Counters grow with wall
time from the cluster's start, so `rate()` and `increase()` behave as on a real cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from tools.sandbox.cluster import Cluster
from tools.sandbox.controller import quantity

Obj = dict[str, Any]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUESTS_PER_SECOND = 20.0  # per ready pod behind a service


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _line(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
    text = repr(float(value))  # full precision: a rounded counter would stall between scrapes
    return f"{name}{{{inner}}} {text}" if inner else f"{name} {text}"


class _Family:
    def __init__(self, name: str, kind: str, help_: str) -> None:
        self.name, self.kind, self.help = name, kind, help_
        self.samples: list[str] = []

    def add(self, labels: dict[str, str], value: float) -> None:
        self.samples.append(_line(self.name, labels, value))

    def text(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        yield from self.samples


def _ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# (namespace, service) -> [time of the last scrape, ok requests, failed requests]: the request counters are
# integrated scrape by scrape, so a rollout that breaks pods raises the errors from then on (and the counters
# never go down), as a real service's would.
Served = dict[tuple[str, str], list[float]]


def render(cluster: Cluster, *, started: float, now: float | None = None, served: Served | None = None) -> str:
    now = time.time() if now is None else now
    served = {} if served is None else served
    up = max(0.0, now - started)
    fam = {
        f.name: f
        for f in (
            _Family("kube_pod_info", "gauge", "Information about pod."),
            _Family("kube_pod_status_phase", "gauge", "The pods current phase."),
            _Family("kube_pod_status_ready", "gauge", "Describes whether the pod is ready to serve requests."),
            _Family("kube_pod_owner", "gauge", "Information about the Pod's owner."),
            _Family("kube_pod_container_status_restarts_total", "counter", "The number of container restarts."),
            _Family("kube_pod_container_status_waiting_reason", "gauge", "Why the container is waiting."),
            _Family(
                "kube_pod_container_status_last_terminated_reason", "gauge", "Why the container was last terminated."
            ),
            _Family("kube_pod_container_resource_limits", "gauge", "The container's resource limits."),
            _Family("kube_pod_container_resource_requests", "gauge", "The container's resource requests."),
            _Family("kube_deployment_spec_replicas", "gauge", "Number of desired pods for a deployment."),
            _Family("kube_deployment_status_replicas_available", "gauge", "Available replicas per deployment."),
            _Family("kube_deployment_status_observed_generation", "gauge", "The generation observed."),
            _Family("kube_deployment_metadata_generation", "gauge", "Sequence number of the desired state."),
            _Family("kube_node_status_condition", "gauge", "The condition of a cluster node."),
            _Family("kube_node_spec_unschedulable", "gauge", "Whether a node can schedule new pods."),
            _Family("container_memory_working_set_bytes", "gauge", "Current working set in bytes."),
            _Family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds."),
            _Family("container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled periods."),
            _Family("container_cpu_cfs_periods_total", "counter", "Number of elapsed enforcement periods."),
            _Family("http_requests_total", "counter", "Requests served per service (sandbox traffic model)."),
        )
    }
    pods = cluster.objects("pods")
    for pod in pods:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        ns, name = str(meta.get("namespace", "")), str(meta["name"])
        base = {"namespace": ns, "pod": name}
        fam["kube_pod_info"].add({**base, "node": str(spec.get("nodeName") or ""), "uid": str(meta.get("uid", ""))}, 1)
        phase = str(status.get("phase") or "Pending")
        for p in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
            fam["kube_pod_status_phase"].add({**base, "phase": p}, 1 if p == phase else 0)
        fam["kube_pod_status_ready"].add({**base, "condition": "true"}, 1 if _ready(pod) else 0)
        for ref in meta.get("ownerReferences") or []:
            fam["kube_pod_owner"].add(
                {**base, "owner_kind": str(ref.get("kind", "")), "owner_name": str(ref.get("name", ""))}, 1
            )
        statuses = {str(s.get("name")): s for s in status.get("containerStatuses") or []}
        for c in spec.get("containers") or []:
            cname = str(c.get("name"))
            cl = {**base, "container": cname}
            st = statuses.get(cname) or {}
            fam["kube_pod_container_status_restarts_total"].add(cl, float(st.get("restartCount", 0)))
            waiting = ((st.get("state") or {}).get("waiting") or {}).get("reason")
            if waiting:
                fam["kube_pod_container_status_waiting_reason"].add({**cl, "reason": str(waiting)}, 1)
            last = ((st.get("lastState") or {}).get("terminated") or {}).get("reason")
            if last:
                fam["kube_pod_container_status_last_terminated_reason"].add({**cl, "reason": str(last)}, 1)
            res = c.get("resources") or {}
            limit = quantity((res.get("limits") or {}).get("memory"))
            request = quantity((res.get("requests") or {}).get("memory"))
            cpu_limit = quantity((res.get("limits") or {}).get("cpu"))
            if limit:
                fam["kube_pod_container_resource_limits"].add({**cl, "resource": "memory", "unit": "byte"}, limit)
            if cpu_limit:
                fam["kube_pod_container_resource_limits"].add({**cl, "resource": "cpu", "unit": "core"}, cpu_limit)
            if request:
                fam["kube_pod_container_resource_requests"].add({**cl, "resource": "memory", "unit": "byte"}, request)
            if phase != "Running" and not st:
                continue
            oom = last == "OOMKilled"
            working = (limit or 512 * 2**20) * (0.97 if oom else 0.42)
            fam["container_memory_working_set_bytes"].add(cl, working)
            fam["container_cpu_usage_seconds_total"].add(cl, up * 0.05)
            periods = up * 10
            fam["container_cpu_cfs_periods_total"].add(cl, periods)
            fam["container_cpu_cfs_throttled_periods_total"].add(
                cl, periods * (0.3 if cpu_limit and cpu_limit < 0.2 else 0)
            )
    for d in cluster.objects("deployments"):
        meta, spec, status = d["metadata"], d.get("spec") or {}, d.get("status") or {}
        dl = {"namespace": str(meta.get("namespace", "")), "deployment": str(meta["name"])}
        fam["kube_deployment_spec_replicas"].add(dl, float(spec.get("replicas", 1)))
        fam["kube_deployment_status_replicas_available"].add(dl, float(status.get("availableReplicas", 0) or 0))
        fam["kube_deployment_metadata_generation"].add(dl, float(meta.get("generation", 1)))
        fam["kube_deployment_status_observed_generation"].add(dl, float(status.get("observedGeneration", 0) or 0))
    for n in cluster.objects("nodes"):
        node = str(n["metadata"]["name"])
        for cond in (n.get("status") or {}).get("conditions") or []:
            for s in ("true", "false", "unknown"):
                fam["kube_node_status_condition"].add(
                    {"node": node, "condition": str(cond.get("type")), "status": s},
                    1 if str(cond.get("status", "")).lower() == s else 0,
                )
        fam["kube_node_spec_unschedulable"].add({"node": node}, 1 if (n.get("spec") or {}).get("unschedulable") else 0)
    for svc in cluster.objects("services"):
        meta = svc["metadata"]
        ns, sname = str(meta.get("namespace", "")), str(meta["name"])
        selector = (svc.get("spec") or {}).get("selector") or {}
        behind = [
            p
            for p in pods
            if p["metadata"].get("namespace") == ns and _selects(selector, p["metadata"].get("labels") or {})
        ]
        if not behind:
            continue
        ready = sum(1 for p in behind if _ready(p))
        # requests meant for a pod that is not ready fail: the error ratio follows the share of broken pods
        last, ok, errors = served.get((ns, sname), [started, 0.0, 0.0])
        span = max(0.0, now - last)
        ok += span * REQUESTS_PER_SECOND * ready
        errors += span * REQUESTS_PER_SECOND * (len(behind) - ready)
        served[(ns, sname)] = [max(now, last), ok, errors]
        fam["http_requests_total"].add({"namespace": ns, "service": sname, "code": "200"}, ok)
        fam["http_requests_total"].add({"namespace": ns, "service": sname, "code": "503"}, errors)
    lines: list[str] = []
    for f in fam.values():
        lines.extend(f.text())
    return "\n".join(lines) + "\n"


def metrics_handler(cluster: Cluster) -> Callable[[web.Request], Any]:
    started = time.time()
    served: Served = {}

    async def handle(_request: web.Request) -> web.Response:
        # the server's own thread owns the cluster (and `served`): reading it here needs no lock
        body = render(cluster, started=started, served=served).encode()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return handle
