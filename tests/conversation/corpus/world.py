"""The corpus's world: two sandbox clusters (`sandbox`, current, and `sandbox-staging`, as in `kubeduty demo`)
behind one kubeconfig, a snapshot of what a change would alter, and changes made by "someone else"."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from tools.sandbox import SandboxHandle, multi_kubeconfig, start_sandbox_thread

MAIN, STAGING = "sandbox", "sandbox-staging"


class World:
    """Two sandbox clusters and a kubeconfig naming both. Shared by read-only dialogues; a dialogue that may
    change something gets a world of its own."""

    def __init__(self) -> None:
        self.sandboxes = {
            MAIN: start_sandbox_thread(seed="demo", port=0),
            STAGING: start_sandbox_thread(seed="demo", port=0),
        }
        self._tmp = tempfile.TemporaryDirectory(prefix="kd-corpus-")
        self.dir = Path(self._tmp.name)
        self.kubeconfig = self.dir / "kubeconfig"
        # a sandbox serving https hands its CA to the kubeconfig through the handle; a plain-http one by URL
        targets: dict[str, Any] = {n: h if getattr(h, "ca_pem", None) else h.url for n, h in self.sandboxes.items()}
        self.kubeconfig.write_text(yaml.safe_dump(multi_kubeconfig(targets, current=MAIN), sort_keys=False))
        self.dirty = False

    @property
    def main(self) -> SandboxHandle:
        return self.sandboxes[MAIN]

    def close(self) -> None:
        for handle in self.sandboxes.values():
            handle.stop()
        self._tmp.cleanup()


def snapshot(world: World) -> dict[str, Any]:
    """What a change would alter: replicas, pod template annotations and images, pod names, node schedulability."""
    state: dict[str, Any] = {}
    for cname, handle in world.sandboxes.items():
        c = handle.cluster
        for kind in ("Deployment", "StatefulSet"):
            for obj in c.list_objects(kind):
                meta, spec = obj["metadata"], obj.get("spec", {})
                tmpl = spec.get("template", {})
                state[f"{cname}/{kind}/{meta['namespace']}/{meta['name']}"] = (
                    spec.get("replicas"),
                    repr(sorted((tmpl.get("metadata", {}).get("annotations") or {}).items())),
                    repr([ct.get("image") for ct in tmpl.get("spec", {}).get("containers", [])]),
                )
        state[f"{cname}/pods"] = sorted(
            f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in c.list_objects("Pod")
        )
        state[f"{cname}/nodes"] = sorted(
            (n["metadata"]["name"], bool(n.get("spec", {}).get("unschedulable"))) for n in c.list_objects("Node")
        )
        state[f"{cname}/namespaces"] = sorted(n["metadata"]["name"] for n in c.list_objects("Namespace"))
    return state


def meanwhile(world: World, change: dict[str, Any]) -> None:
    """Someone else changes the cluster between two messages (the controller reacts, as in a real cluster)."""
    if "delete_pod" in change:
        ns, prefix = str(change["delete_pod"]).split("/")
        pods = sorted(p["metadata"]["name"] for p in world.main.cluster.list_objects("Pod", ns))
        victim = next(p for p in pods if p.startswith(prefix))
        assert world.main.cluster.delete_object("Pod", ns, victim), f"could not delete {ns}/{victim}"
    world.dirty = True


def known_names(sandbox: SandboxHandle) -> frozenset[str]:
    """Names in the cluster: they may show as plain words on a Chinese card (a namespace `dev`, a container `web`)."""
    names: set[str] = set()
    for kind in ("Namespace", "Deployment", "StatefulSet", "DaemonSet", "Pod", "Node", "Service"):
        for obj in sandbox.cluster.list_objects(kind):
            names.add(obj["metadata"]["name"])
            spec = obj.get("spec", {})
            for c in spec.get("template", {}).get("spec", {}).get("containers", []) + spec.get("containers", []):
                names.add(c["name"])
    return frozenset(names)


def pods_by_namespace(world: World) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in world.main.cluster.list_objects("Pod"):
        out.setdefault(p["metadata"]["namespace"], []).append(p["metadata"]["name"])
    return out
