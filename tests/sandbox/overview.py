"""A plain-text overview of a cluster's state; tools/sandbox/README.md quotes it for the demo seed."""

from __future__ import annotations

from collections import Counter

from tools.sandbox.cluster import Cluster
from tools.sandbox.tables import pod_status_reason


def overview(cluster: Cluster) -> str:
    lines: list[str] = []
    namespaces = [n["metadata"]["name"] for n in cluster.list_objects("namespace")]
    lines.append(f"namespaces ({len(namespaces)}): {', '.join(namespaces)}")
    nodes = cluster.list_objects("node")
    lines.append(
        f"nodes ({len(nodes)}): "
        + ", ".join(f"{n['metadata']['name']} Ready {n['status']['nodeInfo']['kubeletVersion']}" for n in nodes)
    )
    pods = cluster.list_objects("pod")
    phases = Counter(p["status"]["phase"] for p in pods)
    lines.append(f"pods ({len(pods)}): " + ", ".join(f"{k} {v}" for k, v in sorted(phases.items())))
    lines.append("unhealthy pods:")
    for p in pods:
        reason = pod_status_reason(p)
        if reason == "Running" and all(s.get("ready") for s in p["status"].get("containerStatuses") or []):
            continue
        restarts = sum(s.get("restartCount", 0) for s in p["status"].get("containerStatuses") or [])
        last = [
            s["lastState"]["terminated"]["reason"]
            for s in p["status"].get("containerStatuses") or []
            if s.get("lastState", {}).get("terminated")
        ]
        extra = f", restarts>0, last terminated: {last[0]}" if last else ""
        if not restarts:
            extra = ""
        owner = p["metadata"]["name"].rsplit("-", 2)[0]
        lines.append(f"  {p['metadata']['namespace']}/{owner}-*: {reason}{extra}")
    lines.append("deployments not at desired (ready/desired):")
    for d in cluster.list_objects("deployment"):
        want = d["spec"]["replicas"]
        ready = d["status"].get("readyReplicas", 0)
        if ready != want:
            lines.append(f"  {d['metadata']['namespace']}/{d['metadata']['name']}: {ready}/{want}")
    return "\n".join(lines)
