"""Time that moves (live mode): the kubelet's side of the story, advanced by a ticker on the server's loop.

Frozen (the default for tests): a pod's status is fixed when it is created, rollouts are instant. Live
(`cluster.set_live(True, speed=...)`, what `kubeduty sandbox serve` and the demo run):
- a new pod starts `ContainerCreating` and gets its scripted status `STARTUP_SECONDS` later, so a rollout or a
  replaced pod takes a moment and `kubectl rollout status` shows its waiting states;
- a Deployment keeps its old ReplicaSets' pods until the new ones are ready (the controller reads `live`);
- crash-looping containers restart on the kubelet's back-off (10s doubling to 5m): restart counts rise, the
  BackOff event's count too.
`speed` divides every duration (speed=60: a 5-minute back-off takes 5 s) for tests and demos.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tools.sandbox.controller import build_pod_status, reconcile_namespace

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]
STARTUP_SECONDS = 4.0  # image pulled, container started, readiness probe passed
TICK_SECONDS = 0.5
MAX_BACKOFF = 300.0


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: Any) -> datetime | None:
    from tools.sandbox.cluster import parse_ts

    return parse_ts(text) if isinstance(text, str) else None


def starting_status(pod: Obj) -> Obj:
    """A scheduled pod whose containers are being created (live mode)."""
    created = pod["metadata"].get("creationTimestamp")
    names = [str(c.get("name")) for c in pod["spec"].get("containers") or []]
    msg = f"containers with unready status: [{' '.join(names)}]"
    conds = [
        {"type": "PodReadyToStartContainers", "status": "False", "lastProbeTime": None, "lastTransitionTime": created},
        {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": created},
        *(
            {
                "type": t,
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": created,
                "reason": "ContainersNotReady",
                "message": msg,
            }
            for t in ("Ready", "ContainersReady")
        ),
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": created},
    ]
    statuses = [
        {
            "name": str(c.get("name")),
            "image": str(c.get("image")),
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
        }
        for c in pod["spec"].get("containers") or []
    ]
    return {
        "phase": "Pending",
        "conditions": conds,
        "startTime": created,
        "containerStatuses": statuses,
        "qosClass": "Burstable",
    }


def is_starting(pod: Obj) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(((s.get("state") or {}).get("waiting") or {}).get("reason") == "ContainerCreating" for s in statuses)


def backoff_seconds(restarts: int) -> float:
    return min(10.0 * 2 ** max(0, restarts - 1), MAX_BACKOFF)


def _fmt_backoff(seconds: float) -> str:
    return "5m0s" if seconds >= MAX_BACKOFF else f"{int(seconds)}s"


def _finish_start(cluster: Cluster, pod: Obj, now: datetime) -> Obj:
    new = copy.deepcopy(pod)
    new["status"] = build_pod_status(cluster, new, new["spec"].get("nodeName"), "")
    stamp = _ts(now)
    for st in new["status"].get("containerStatuses") or []:
        running = (st.get("state") or {}).get("running")
        if running and (_parse(running.get("startedAt")) or now) > now:
            running["startedAt"] = stamp  # a sped-up start never lies in the future
    return new


def _restart_crashed(cluster: Cluster, pod: Obj, now: datetime) -> Obj | None:
    """Restart every crash-looping container whose back-off is over; it crashes again at once (scripted)."""
    changed = False
    new = copy.deepcopy(pod)
    for st in (new.get("status") or {}).get("containerStatuses") or []:
        waiting = (st.get("state") or {}).get("waiting") or {}
        term = (st.get("lastState") or {}).get("terminated")
        if waiting.get("reason") != "CrashLoopBackOff" or not term:
            continue
        restarts = int(st.get("restartCount") or 0)
        finished = _parse(term.get("finishedAt")) or now
        if now < finished + timedelta(seconds=backoff_seconds(restarts) / cluster.speed):
            continue
        run = timedelta(seconds=min(12.0, 12.0 / cluster.speed))
        term.update(startedAt=_ts(now - run), finishedAt=_ts(now))
        st["restartCount"] = restarts + 1
        meta = new["metadata"]
        waiting["message"] = (
            f"back-off {_fmt_backoff(backoff_seconds(restarts + 1))} restarting failed container={st['name']} "
            f"pod={meta['name']}_{meta.get('namespace')}({meta.get('uid')})"
        )
        changed = True
    return new if changed else None


def _bump_backoff_event(cluster: Cluster, pod: Obj, now: datetime) -> None:
    uid = pod["metadata"].get("uid")
    for ev in cluster.objects("events", pod["metadata"].get("namespace")):
        if ev.get("reason") == "BackOff" and (ev.get("involvedObject") or {}).get("uid") == uid:
            bumped = copy.deepcopy(ev)
            bumped["count"] = int(ev.get("count") or 1) + 1
            bumped["lastTimestamp"] = _ts(now)
            cluster.store("events", bumped)
            return


def tick(cluster: Cluster) -> int:
    """Advance the world to now; returns how many pods changed. Call with the cluster lock held."""
    if not cluster.live:
        return 0
    now = cluster.wall()
    startup = timedelta(seconds=STARTUP_SECONDS / cluster.speed)
    touched: set[str] = set()
    changed = 0
    for pod in cluster.objects("pods"):
        ns = pod["metadata"]["namespace"]
        if is_starting(pod):
            created = _parse(pod["metadata"].get("creationTimestamp")) or now
            if now >= created + startup and pod["spec"].get("nodeName"):
                cluster.store("pods", _finish_start(cluster, pod, now))
                touched.add(ns)
                changed += 1
            continue
        restarted = _restart_crashed(cluster, pod, now)
        if restarted is not None:
            cluster.store("pods", restarted)
            _bump_backoff_event(cluster, restarted, now)
            changed += 1
    for ns in sorted(touched):
        reconcile_namespace(cluster, ns)  # ready pods let rollouts go on (old ReplicaSets scale down)
    return changed
