"""Parameter meanings: built-in names, and external (MCP) tools with generic `name` params."""

from __future__ import annotations

from bot.conversation.slots import extract, meaning, missing, source
from bot.tooling.types import ToolInfo


def info(name: str, props: list[str], required: list[str], resource: str = "", mutates: bool = False) -> ToolInfo:
    schema = {"type": "object", "properties": {p: {"type": "string"} for p in props}, "required": required}
    return ToolInfo(name=name, description="", input_schema=schema, mutates=mutates, resource=resource, source="mcp")


def test_external_tools_get_the_same_help_by_parameter_meaning() -> None:
    pods_get = info("k8s__pods_get", ["namespace", "name"], ["name"])
    assert meaning(pods_get, "name") == "pod"
    assert meaning(pods_get, "namespace") == "namespace"
    dep = info("deployments_scale", ["name", "namespace"], ["name", "namespace"])
    assert meaning(dep, "name") == "deployment"
    assert missing(dep, {}) == ["namespace", "name"]  # namespace is asked first
    assert meaning(info("node_cordon", ["name"], ["name"], resource="nodes"), "name") == "node"
    assert meaning(info("anything", ["replicas"], ["replicas"]), "replicas") is None


def test_choice_sources_follow_the_filled_arguments() -> None:
    assert source("pod", {"namespace": "dev"}, "cart") == source("pod", {"namespace": "dev"}, "cart")
    call = source("pod", {"namespace": "dev", "cluster": "c1"}, "cart")
    assert call is not None and call.tool == "list_pods"
    assert call.args == {"cluster": "c1", "namespace": "dev", "name_filter": "cart"}
    call = source("container", {"namespace": "dev", "pod": "p"})
    assert call is not None and call.tool == "describe_pod"
    assert source("container", {}) is None


def test_names_are_extracted_from_result_models() -> None:
    assert extract("namespace", {"items": [{"name": "a"}, {"name": "b"}]}) == ["a", "b"]
    assert extract("container", {"containers": [{"name": "app"}, {"name": "sidecar"}]}) == ["app", "sidecar"]
    pods = {
        "items": [
            {"name": "db-0", "owner": "StatefulSet/db", "workload": "db"},
            {"name": "x", "owner": "ReplicaSet/x-1"},
        ]
    }
    assert extract("statefulset", pods) == ["db"]
    assert extract("pod", None) == []
