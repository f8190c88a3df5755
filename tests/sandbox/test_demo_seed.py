"""The demo seed is the same on every start and matches the overview teammates read in the README."""

from __future__ import annotations

import re
from pathlib import Path

from tests.sandbox.overview import overview
from tools.sandbox import SandboxHandle
from tools.sandbox.seed import build

README = Path(__file__).resolve().parents[2] / "tools" / "sandbox" / "README.md"


def test_the_readme_overview_is_exactly_what_the_demo_seed_builds() -> None:
    text = README.read_text()
    block = re.search(r"<!-- overview:start -->\n```\n(.*?)\n```\n<!-- overview:end -->", text, re.S)
    assert block is not None
    assert block.group(1) == overview(build("demo"))


def test_two_starts_give_the_same_names_and_uids_cached_or_not() -> None:
    first, second = build("demo"), build("demo", cached=False)

    def ids(c: object) -> list[tuple[str, str, str]]:
        return [
            (o["metadata"].get("namespace", ""), o["metadata"]["name"], o["metadata"]["uid"])
            for kind in ("pod", "replicaset", "deployment", "node")
            for o in c.list_objects(kind)  # type: ignore[attr-defined]
        ]

    assert ids(first) == ids(second)


def test_pod_names_follow_the_controller_patterns(sandbox: SandboxHandle) -> None:
    pods = {p["metadata"]["name"]: p for p in sandbox.cluster.list_objects("pod")}
    deploy_pods = [n for n in pods if n.startswith("web-")]
    assert len(deploy_pods) == 3
    for name in deploy_pods:
        assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
        owner = pods[name]["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "ReplicaSet" and name.startswith(owner["name"] + "-")
        assert pods[name]["metadata"]["labels"]["pod-template-hash"] == owner["name"].rsplit("-", 1)[1]
    assert "redis-0" in pods and pods["redis-0"]["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    proxies = [p for n, p in pods.items() if n.startswith("kube-proxy-")]
    assert sorted(p["spec"]["nodeName"] for p in proxies) == ["node-1", "node-2", "node-3"]


def test_frontend_has_a_healthy_revision_one_to_roll_back_to(sandbox: SandboxHandle) -> None:
    rs = sorted(
        (r for r in sandbox.cluster.list_objects("replicaset", "dev") if r["metadata"]["name"].startswith("frontend-")),
        key=lambda r: r["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
    )
    assert [r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rs] == ["1", "2"]
    assert rs[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/frontend:v2.3.0"
    assert rs[0]["spec"]["replicas"] == 0 and rs[1]["spec"]["replicas"] == 1


def test_scale_seed_has_the_asked_number_of_pods() -> None:
    cluster = build("scale", namespaces=3, pods=25)
    pods = cluster.list_objects("pod")
    assert len(pods) == 75
    assert {p["metadata"]["namespace"] for p in pods} == {"scale-000", "scale-001", "scale-002"}
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert cluster.list_objects("event") == []


def test_a_cloned_seed_is_independent_of_the_next_one() -> None:
    first = build("demo")
    assert first.delete_namespace("dev")
    first.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "extra"}})
    second = build("demo")
    assert second.get("namespace", None, "dev") is not None
    assert second.get("namespace", None, "extra") is None
    assert len(second.list_objects("pod", "dev")) == 5


def test_the_scale_seed_is_deterministic_too() -> None:
    def ids(c: object) -> list[tuple[str, str, str, str]]:
        return [
            (o["metadata"]["namespace"], o["metadata"]["name"], o["metadata"]["uid"], o["spec"].get("nodeName", ""))
            for o in c.list_objects("pod")  # type: ignore[attr-defined]
        ]

    first, second = build("scale", namespaces=2, pods=40), build("scale", namespaces=2, pods=40)
    assert ids(first) == ids(second) and len(ids(first)) == 80
    assert len({uid for _, _, uid, _ in ids(first)}) == 80
