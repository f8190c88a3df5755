"""The rule parser and slash commands: pure, table-tested."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.parser import Kind, is_list_request, ordinal, parse, parse_slash
from bot.conversation.slots import match_answer

TOOL_CASES: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("帮我查看一下k8s状态", "cluster_overview", {}, {}),
    ("集群状态怎么样", "cluster_overview", {}, {}),
    ("how is the cluster", "cluster_overview", {}, {}),
    ("hi，帮我看一下 cart-service 的日志", "pod_logs", {}, {"pod": "cart-service"}),
    ("show me the logs of cart-service", "pod_logs", {}, {"pod": "cart-service"}),
    ("看下 cart-service 上一次的日志", "pod_logs", {"previous": True}, {"pod": "cart-service"}),
    (
        "show the last 50 lines of logs of web in dev",
        "pod_logs",
        {"namespace": "dev", "tail_lines": 50},
        {"pod": "web"},
    ),
    ("dev 里有哪些 pod", "list_pods", {"namespace": "dev"}, {}),
    ("list pods in dev", "list_pods", {"namespace": "dev"}, {}),
    ("show pods in kube-system namespace", "list_pods", {"namespace": "kube-system"}, {}),
    ("有哪些异常的 pod", "list_pods", {"only_unhealthy": True}, {}),
    ("看下 payment-api 的事件", "list_events", {}, {"object_name": "payment-api"}),
    ("events in prod", "list_events", {"namespace": "prod"}, {}),
    ("describe pod x", "describe_pod", {}, {"pod": "x"}),
    ("描述一下 cart-service-v2 这个 pod", "describe_pod", {}, {"pod": "cart-service-v2"}),
    ("list nodes", "list_nodes", {}, {}),
    ("看看节点", "list_nodes", {}, {}),
    ("显示所有命名空间", "list_namespaces", {}, {}),
    ("[显示所有命名空间]", "list_namespaces", {}, {}),
    ("[列出所有集群]", "list_clusters", {}, {}),
    ("[查看集群资源总览]", "cluster_overview", {}, {}),
    ("list clusters", "list_clusters", {}, {}),
    ("dev 下的 deployment", "list_deployments", {"namespace": "dev"}, {}),
    ("services in prod", "list_services", {"namespace": "prod"}, {}),
    ("重启 cart-service-v1", "restart_deployment", {}, {"deployment": "cart-service-v1"}),
    ("restart cart-service-v1 in dev", "restart_deployment", {"namespace": "dev"}, {"deployment": "cart-service-v1"}),
    ("把 cart-service 扩容到 3 个副本", "scale_deployment", {"replicas": 3}, {"deployment": "cart-service"}),
    ("scale cart-service to 3", "scale_deployment", {"replicas": 3}, {"deployment": "cart-service"}),
    ("回滚 payment-api", "rollback_deployment", {}, {"deployment": "payment-api"}),
    ("删除 pod cart-service-v2-abc", "delete_pod", {}, {"pod": "cart-service-v2-abc"}),
    ("cordon node-2", "cordon_node", {}, {"node": "node-2"}),
    ("uncordon node-2", "uncordon_node", {}, {"node": "node-2"}),
    ("检查一下 cart-service 的健康状况", "workload_health", {}, {"name": "cart-service"}),
    ("check the health of cart-service", "workload_health", {}, {"name": "cart-service"}),
    ("what is wrong with payment-api in prod", "workload_health", {"namespace": "prod"}, {"name": "payment-api"}),
]


@pytest.mark.parametrize(("text", "tool", "args", "hints"), TOOL_CASES)
def test_common_phrasings_map_to_the_right_tool_args_and_hints(
    text: str, tool: str, args: dict[str, Any], hints: dict[str, str]
) -> None:
    intent = parse(text)
    assert intent.kind is Kind.TOOL
    assert (intent.tool, intent.args, intent.hints) == (tool, args, hints)


def test_health_questions_become_plans_to_confirm() -> None:
    assert parse("检查一下 cart-service 的健康状况").plan
    assert not parse("show me the logs of cart-service").plan


@pytest.mark.parametrize("text", ["它的事件", "its events", "它的日志", "show its logs"])
def test_its_refers_to_the_last_pod(text: str) -> None:
    intent = parse(text)
    assert intent.kind is Kind.TOOL and intent.refers and not intent.hints


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("/reset", Kind.RESET),
        ("重置", Kind.RESET),
        ("[刷新缓存]", Kind.REFRESH),
        ("refresh cache", Kind.REFRESH),
        ("help", Kind.HELP),
        ("取消", Kind.CANCEL),
        ("hi", Kind.GREET),
        ("应该在 dev", Kind.NONE),
        ("the v2 one", Kind.NONE),
        ("", Kind.NONE),
    ],
)
def test_bot_commands_and_bare_answers(text: str, kind: Kind) -> None:
    intent = parse_slash(text) if text.startswith("/") else parse(text)
    assert intent.kind is kind


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("/overview", "cluster_overview", {}),
        ("/ns", "list_namespaces", {}),
        ("/pods", "list_pods", {}),
        ("/pods dev", "list_pods", {"namespace": "dev"}),
        ("/pods dev cart", "list_pods", {"namespace": "dev", "name_filter": "cart"}),
        (
            "/logs cart-1 -n dev --tail 20 --previous -c app",
            "pod_logs",
            {"pod": "cart-1", "namespace": "dev", "tail_lines": 20, "previous": True, "container": "app"},
        ),
        ("/logs", "pod_logs", {}),
        ("/describe web-1 -n prod", "describe_pod", {"pod": "web-1", "namespace": "prod"}),
        ("/events dev cart-1", "list_events", {"namespace": "dev", "object_name": "cart-1"}),
        ("/deploys dev", "list_deployments", {"namespace": "dev"}),
        ("/nodes", "list_nodes", {}),
        ("/health cart-service -n dev", "workload_health", {"name": "cart-service", "namespace": "dev"}),
        ("/scale web 3 -n dev", "scale_deployment", {"deployment": "web", "replicas": 3, "namespace": "dev"}),
        ("/scale web", "scale_deployment", {"deployment": "web"}),
        ("/restart web", "restart_deployment", {"deployment": "web"}),
        ("/rollback web -n dev", "rollback_deployment", {"deployment": "web", "namespace": "dev"}),
        ("/delete pod web-1 -n dev", "delete_pod", {"pod": "web-1", "namespace": "dev"}),
        ("/cordon node-1", "cordon_node", {"node": "node-1"}),
        ("/uncordon node-1", "uncordon_node", {"node": "node-1"}),
    ],
)
def test_slash_commands_give_exact_arguments(text: str, tool: str, args: dict[str, Any]) -> None:
    intent = parse_slash(text)
    assert intent.kind is Kind.TOOL and intent.tool == tool and intent.args == args


def test_use_commands_and_bad_or_unknown_commands() -> None:
    assert parse_slash("/use ns dev").kind is Kind.USE_NS and parse_slash("/use ns dev").value == "dev"
    assert parse_slash("/use cluster prod").kind is Kind.USE_CLUSTER
    assert parse_slash("/frobnicate").kind is Kind.UNKNOWN_COMMAND
    assert parse_slash("/logs x --tail many").kind is Kind.BAD_COMMAND
    assert parse_slash("/scale web lots").kind is Kind.BAD_COMMAND
    assert parse_slash('/logs "unclosed').kind is Kind.TOOL  # a stray quote is not a crash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我不确定，你列出来吧", True),
        ("I'm not sure, list them", True),
        ("I’m not sure, list them", True),
        ("v2 那个", False),
    ],
)
def test_list_requests_are_recognised(text: str, expected: bool) -> None:
    assert is_list_request(text) is expected


@pytest.mark.parametrize(
    ("text", "n"), [("第二个", 2), ("第3个", 3), ("the second one", 2), ("#3", 3), ("最后一个", -1), ("v2", None)]
)
def test_ordinals(text: str, n: int | None) -> None:
    assert ordinal(text) == n


PODS = ["cart-service-v1-7d9f8-abcde", "cart-service-v2-5c6b7-fghij"]
NAMESPACES = ["default", "dev", "kube-system", "prod", "staging"]


@pytest.mark.parametrize(
    ("text", "options", "value"),
    [
        ("应该在 dev", NAMESPACES, "dev"),
        ("it should be in dev", NAMESPACES, "dev"),
        ("dev", NAMESPACES, "dev"),
        ("v2 那个", PODS, PODS[1]),
        ("the v2 one", PODS, PODS[1]),
        ("第二个", PODS, PODS[1]),
        ("the first one", PODS, PODS[0]),
        (PODS[0], PODS, PODS[0]),
    ],
)
def test_typed_answers_match_the_offered_options(text: str, options: list[str], value: str) -> None:
    assert match_answer(text, options, exact_only=False).value == value


def test_mutations_only_accept_exact_names_or_positions() -> None:
    assert match_answer("v2 那个", PODS, exact_only=True).value is None
    assert match_answer(PODS[1], PODS, exact_only=True).value == PODS[1]
    assert match_answer("第一个", PODS, exact_only=True).value == PODS[0]


def test_a_fragment_matching_several_options_is_ambiguous() -> None:
    m = match_answer("cart", PODS, exact_only=False)
    assert m.value is None and set(m.ambiguous) == set(PODS)


def test_status_asks_for_the_overview_and_the_tool_sources() -> None:
    intent = parse_slash("/status")
    assert intent.kind is Kind.STATUS and intent.tool == "cluster_overview"


def test_audit_takes_an_optional_count_within_bounds() -> None:
    assert parse_slash("/audit").value == "10"
    assert parse_slash("/audit 3").kind is Kind.AUDIT and parse_slash("/audit 3").value == "3"
    assert parse_slash("/audit 999").kind is Kind.BAD_COMMAND
    assert parse_slash("/audit many").kind is Kind.BAD_COMMAND
