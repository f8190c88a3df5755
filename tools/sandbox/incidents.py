"""Scripted incidents: break a sandbox Deployment the way real ones break, so the on-call loop has work to do.

Each incident changes the sandbox's objects the way the real cause would (a new revision that needs more memory,
a bad image tag, a rollout of a crashing build, pods crash-looping after a dependency blip, a scale-up beyond
the nodes), so the alert rules, the diagnosis and the runbooks see what they would see on a real cluster, and
the matching runbook's fix makes it recover:

| kind       | what happens                                                | the runbook that fixes it       |
| oom        | the next revision needs twice its memory limit: OOMKilled   | oom-raise-memory (raise limit)  |
| crashloop  | the running pods crash-loop (a dependency blip at start)    | crashloop-restart (restart)     |
| imagepull  | a release with an image tag that does not exist             | image-pull-rollback             |
| pending    | scaled up by 3 replicas the nodes cannot fit                | pending-scale-down (scale to 1) |
| badrollout | a release whose new pods crash at start                     | bad-rollout-rollback            |

Triggered over HTTP by `POST /sandbox/incidents {"kind", "name", "namespace"?}` (see `incident_route`), which
the server authorises like any non-resource URL: only cluster-admin (system:masters) may break the cluster.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tools.sandbox.controller import BAD_IMAGE, BEHAVIOUR, NEEDS_MEMORY, build_pod_status, quantity
from tools.sandbox.podevents import emit
from tools.sandbox.resources import BY_PLURAL

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]
INCIDENTS_PATH = "/sandbox/incidents"
KINDS = ("oom", "crashloop", "imagepull", "pending", "badrollout")
DRILL = "sandbox.kubeduty.io/drill"  # on a template: which drill made this revision (also forces a new revision)
CHANGE_CAUSE = "kubernetes.io/change-cause"
MERGE = "application/strategic-merge-patch+json"
MAX_BODY = 4096
MI = 1024 * 1024


class IncidentError(ValueError):
    """A drill that cannot run: unknown kind, no such Deployment, or an ambiguous name."""


@dataclass(frozen=True)
class Triggered:
    kind: str
    namespace: str
    deployment: str
    detail: str  # what was changed, in English (the bot words its own messages)

    def to_json(self) -> Obj:
        return {"kind": self.kind, "namespace": self.namespace, "deployment": self.deployment, "detail": self.detail}


def find_deployment(cluster: Cluster, name: str, namespace: str | None = None) -> Obj:
    deps = [d for d in cluster.objects("deployments", namespace) if d["metadata"]["name"] == name]
    if not deps:
        where = f" in namespace {namespace!r}" if namespace else ""
        raise IncidentError(f"no Deployment named {name!r}{where}")
    if len(deps) > 1:
        spaces = ", ".join(sorted(d["metadata"]["namespace"] for d in deps))
        raise IncidentError(f"{name!r} exists in several namespaces ({spaces}): give the namespace")
    return deps[0]


def _first_container(dep: Obj) -> Obj:
    containers = dep["spec"]["template"]["spec"].get("containers") or []
    if not containers:
        raise IncidentError(f"{dep['metadata']['name']} has no containers")
    return dict(containers[0])


def _patch_template(cluster: Cluster, dep: Obj, annotations: dict[str, str], **extra: Any) -> None:
    meta = dep["metadata"]
    body: Obj = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
    if "containers" in extra:
        body["spec"]["template"]["spec"] = {"containers": extra["containers"]}
    if "cause" in extra:
        body["metadata"] = {"annotations": {CHANGE_CAUSE: extra["cause"]}}
    cluster.patch(BY_PLURAL["deployments"], meta["namespace"], meta["name"], MERGE, body)


def _stamp(cluster: Cluster, kind: str) -> str:
    return f"{kind}-{cluster.wall().strftime('%H%M%S')}-{cluster.rand_suffix(4)}"


def _image_with_tag(image: str, suffix: str) -> str:
    repo, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:  # no tag (or a registry port): tag it
        return f"{image}:{suffix.lstrip('-')}"
    return f"{repo}:{tag}{suffix}"


def _oom(cluster: Cluster, dep: Obj) -> str:
    c = _first_container(dep)
    limit = quantity(((c.get("resources") or {}).get("limits") or {}).get("memory")) or 256 * MI
    needs = f"{int(2 * limit // MI)}Mi"  # the runbook's default raise (512Mi) covers the usual 256Mi limit
    _patch_template(
        cluster,
        dep,
        {BEHAVIOUR: "oomkilled", NEEDS_MEMORY: needs, DRILL: _stamp(cluster, "oom")},
        cause="cache warm-up grew (drill: oom)",
    )
    return f"the new revision needs {needs} of memory; its limit is {int(limit // MI)}Mi"


def _imagepull(cluster: Cluster, dep: Obj) -> str:
    c = _first_container(dep)
    bad = _image_with_tag(str(c.get("image", "app")), "-notfound")
    _patch_template(
        cluster,
        dep,
        {BEHAVIOUR: "imagepull", BAD_IMAGE: bad, DRILL: _stamp(cluster, "imagepull")},
        containers=[{"name": c["name"], "image": bad}],
        cause=f"release {bad.rpartition(':')[2]} (drill: imagepull)",
    )
    return f"released image {bad}, which does not exist"


def _badrollout(cluster: Cluster, dep: Obj) -> str:
    c = _first_container(dep)
    image = _image_with_tag(str(c.get("image", "app")), "-rc1")
    _patch_template(
        cluster,
        dep,
        {BEHAVIOUR: "crashloop", DRILL: _stamp(cluster, "badrollout")},
        containers=[{"name": c["name"], "image": image}],
        cause=f"release {image.rpartition(':')[2]} (drill: badrollout)",
    )
    return f"released {image}, whose pods crash at start"


def _pods_of(cluster: Cluster, dep: Obj) -> list[Obj]:
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    return [
        p
        for p in cluster.objects("pods", ns)
        if str(p["metadata"].get("name", "")).startswith(f"{name}-")
        and any(r.get("kind") == "ReplicaSet" for r in p["metadata"].get("ownerReferences") or [])
    ]


def _crashloop(cluster: Cluster, dep: Obj) -> str:
    """The pods themselves crash (not the template): a restart brings fresh, healthy pods."""
    pods = _pods_of(cluster, dep)
    if not pods:
        raise IncidentError(f"{dep['metadata']['name']} has no pods to crash")
    for pod in pods:
        new = copy.deepcopy(pod)
        new["metadata"].setdefault("annotations", {})[BEHAVIOUR] = "crashloop"
        new["status"] = build_pod_status(cluster, new, new["spec"].get("nodeName"), "")
        for st in new["status"].get("containerStatuses") or []:
            if "CrashLoopBackOff" in str((st.get("state") or {}).get("waiting")):
                st["restartCount"] = 1  # it has just started crashing
        cluster.store("pods", new)
        emit(
            cluster,
            new,
            "BackOff",
            "Back-off restarting failed container",
            type_="Warning",
            host=new["spec"].get("nodeName"),
        )
    return f"{len(pods)} pod(s) crash-loop: the database was unreachable when they restarted"


def _pending(cluster: Cluster, dep: Obj) -> str:
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    before = {p["metadata"]["name"] for p in _pods_of(cluster, dep)}
    replicas = int(dep["spec"].get("replicas") or 1)
    rtype = BY_PLURAL["deployments"]
    cluster.set_scale(rtype, ns, name, {"spec": {"replicas": replicas + 3}})
    nodes = len(cluster.objects("nodes"))
    why = (
        f"0/{nodes} nodes are available: {nodes} Insufficient memory. preemption: 0/{nodes} nodes are "
        f"available: {nodes} No preemption victims found for incoming pod."
    )
    for pod in _pods_of(cluster, dep):
        if pod["metadata"]["name"] in before:
            continue
        new = copy.deepcopy(pod)
        new["metadata"].setdefault("annotations", {})[BEHAVIOUR] = "pending"  # the scheduler keeps it pending
        new["spec"].pop("nodeName", None)
        new["status"] = build_pod_status(cluster, new, None, why)
        cluster.store("pods", new)
        emit(cluster, new, "FailedScheduling", why, type_="Warning", component="default-scheduler")
    return f"scaled from {replicas} to {replicas + 3} replicas; the new pods do not fit on any node"


_DRILLS: dict[str, Callable[[Cluster, Obj], str]] = {
    "oom": _oom,
    "crashloop": _crashloop,
    "imagepull": _imagepull,
    "pending": _pending,
    "badrollout": _badrollout,
}


def trigger(cluster: Cluster, kind: str, name: str, namespace: str | None = None) -> Triggered:
    """Break Deployment `name` (in `namespace`, or wherever the only one of that name is) the `kind` way."""
    drill = _DRILLS.get(kind.strip().lower())
    if drill is None:
        raise IncidentError(f"unknown incident {kind!r}: use one of {', '.join(KINDS)}")
    with cluster.lock:
        dep = find_deployment(cluster, name, namespace or None)
        detail = drill(cluster, dep)
    return Triggered(kind.strip().lower(), dep["metadata"]["namespace"], dep["metadata"]["name"], detail)


def incident_route(cluster: Cluster, authorize: Callable[[web.Request], None]) -> Any:
    """`POST /sandbox/incidents` (JSON body) and `GET /sandbox/incidents` (the kinds). `authorize` raises the
    server's 401/403 for anyone RBAC does not allow `post` on this non-resource URL (cluster-admin only)."""

    async def handle(request: web.Request) -> web.Response:
        authorize(request)
        if request.method == "GET":
            return web.json_response({"kinds": list(KINDS)})
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            body = json.loads((await request.content.read(MAX_BODY + 1))[:MAX_BODY] or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
            return web.json_response({"error": "the body must be JSON"}, status=400)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k, ""), str) for k in ("kind", "name", "namespace")
        ):
            return web.json_response({"error": "expected {kind, name, namespace?} strings"}, status=400)
        try:
            done = trigger(cluster, body.get("kind", ""), body.get("name", ""), body.get("namespace") or None)
        except IncidentError as exc:
            return web.json_response(
                {"error": str(exc), "kinds": list(KINDS)}, status=404 if "no Deployment" in str(exc) else 400
            )
        return web.json_response(done.to_json(), status=201)

    return handle
