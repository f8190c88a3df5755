"""The events a real cluster emits for a pod's life: scheduling, pulls, starts, back-offs and kills."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tools.sandbox.specs import MAX_EVENTS_PER_NAMESPACE, _container, _memory_limit, _parse, _sha, _ts

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]


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
