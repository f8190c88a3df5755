"""Offering only the relevant tools, in Chinese and English, always with the basic reads."""

from __future__ import annotations

from bot.agent.selection import select_tools
from bot.tooling.types import ToolInfo


def _tool(name: str, verb: str, resource: str, *, mutates: bool = False) -> ToolInfo:
    return ToolInfo(name=name, description="", input_schema={}, mutates=mutates, verb=verb, resource=resource)


CATALOGUE = [
    _tool("list_clusters", "list", "clusters"),
    _tool("cluster_overview", "overview", ""),
    _tool("list_namespaces", "list", "namespaces"),
    _tool("list_pods", "list", "pods"),
    _tool("get_pod", "get", "pods"),
    _tool("get_pod_logs", "logs", "pods"),
    _tool("list_events", "list", "events"),
    _tool("list_deployments", "list", "deployments"),
    _tool("get_deployment", "get", "deployments"),
    _tool("list_services", "list", "services"),
    _tool("list_nodes", "list", "nodes"),
    _tool("workload_health", "diagnose", "deployments"),
    _tool("scale_deployment", "scale", "deployments", mutates=True),
    _tool("scale_statefulset", "scale", "statefulsets", mutates=True),
    _tool("restart_deployment", "restart", "deployments", mutates=True),
    _tool("rollback_deployment", "rollback", "deployments", mutates=True),
    _tool("delete_pod", "delete", "pods", mutates=True),
    _tool("cordon_node", "cordon", "nodes", mutates=True),
    _tool("uncordon_node", "uncordon", "nodes", mutates=True),
    _tool("k8s-mcp.helm_list", "get", ""),
]
BASICS = {"list_namespaces", "list_pods", "list_events", "workload_health"}  # the first half of a limit of 8


def names(text: str, limit: int = 8) -> list[str]:
    return [t.name for t in select_tools(text, CATALOGUE, limit=limit)]


def test_a_chinese_scale_request_offers_the_scale_tool_first_and_keeps_the_basic_reads() -> None:
    picked = names("把 shop 的 cart 扩容到 4 个副本")
    assert picked[0] == "scale_deployment"
    assert BASICS <= set(picked) and len(picked) == 8


def test_a_read_question_does_not_offer_changes_nobody_asked_for() -> None:
    picked = names("why is the cart pod crashing? show me its logs")
    assert "get_pod_logs" in picked[:3]
    assert not any(t.mutates for t in select_tools("why is the cart pod crashing?", CATALOGUE, limit=8))


def test_node_words_in_chinese_pick_the_node_tools() -> None:
    picked = names("节点 node-2 封锁一下", limit=10)
    assert {"list_nodes", "cordon_node"} <= set(picked)
    assert "rollback_deployment" not in picked


def test_an_external_tool_is_found_by_the_words_of_its_name() -> None:
    assert "k8s-mcp.helm_list" in names("list helm releases")


def test_a_short_catalogue_is_offered_whole_and_nothing_is_ever_duplicated() -> None:
    assert select_tools("anything", CATALOGUE[:5], limit=12) == CATALOGUE[:5]
    picked = names("pods pods pods 日志 logs restart", limit=12)
    assert len(picked) == len(set(picked)) == 12


def test_on_the_real_catalogue_a_why_question_gets_the_diagnosis_and_log_tools() -> None:
    from bot.tooling.builtin import tool_info
    from tools.catalogue import CATALOGUE

    real = [tool_info(spec) for spec in CATALOGUE.values()]
    picked = {t.name for t in select_tools("checkout 为什么挂了？看下日志", real, limit=8)}
    assert {"workload_health", "pod_logs", "list_namespaces", "list_pods"} <= picked
    assert not {"delete_pod", "scale_deployment", "rollback_deployment"} & picked
