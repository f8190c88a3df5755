"""Understanding without an LLM, as pure functions: the issue's phrasings, control words, refusals, switching,
and resolving words against what the cluster has (rapidfuzz for typos)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.controls import pick_name
from bot.conversation.intent import Kind
from bot.conversation.lexer import control
from bot.conversation.parser import parse, parse_slash
from bot.conversation.resolve import Vocab, resolve, suggest

# Every phrasing the issue lists as misunderstood: (text, tool, exact args, hints)
ISSUE_PHRASINGS: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("看下 dev 的 payment-api 的日志", "pod_logs", {"namespace": "dev"}, {"pod": "payment-api"}),
    ("帮我 describe 一下 dev 的 frontend", "describe_pod", {"namespace": "dev"}, {"pod": "frontend"}),
    (
        "把 production 的 web 扩容到 5 个",
        "scale_deployment",
        {"namespace": "production", "replicas": 5},
        {"deployment": "web"},
    ),
    (
        "把 dev 的 cart-service-v2 扩到 3 个副本",
        "scale_deployment",
        {"namespace": "dev", "replicas": 3},
        {"deployment": "cart-service-v2"},
    ),
    ("help me check 一下 production 里 web 的 health", "workload_health", {"namespace": "production"}, {"name": "web"}),
    ("is anything broken right now?", "cluster_overview", {}, {}),
    ("dev 环境整体健康吗", "list_pods", {"namespace": "dev"}, {}),
    ("and the logs from before it crashed?", "pod_logs", {"previous": True}, {}),
    ("我的服务挂了吗", "cluster_overview", {}, {}),
    ("线上的 orders 还活着吗", "workload_health", {"namespace": "production"}, {"name": "orders"}),
    ("把 node-1 设为不可调度", "cordon_node", {}, {"node": "node-1"}),
    ("kubectl get pods -n dev", "list_pods", {"namespace": "dev"}, {}),
]


@pytest.mark.parametrize(("text", "tool", "args", "hints"), ISSUE_PHRASINGS)
def test_the_issues_phrasings_choose_the_tool_by_keywords_and_place_names_by_their_cues(
    text: str, tool: str, args: dict[str, Any], hints: dict[str, str]
) -> None:
    intent = parse(text)
    assert intent.kind is Kind.TOOL, intent
    assert (intent.tool, intent.args, intent.hints) == (tool, args, hints)


def test_and_before_it_crashed_refers_to_the_pod_just_shown() -> None:
    assert parse("and the logs from before it crashed?").refers


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("/logs orders --previous", {"pod": "orders", "previous": True}),
        ("/scale dev/payment-api 0", {"namespace": "dev", "deployment": "payment-api", "replicas": 0}),
        ("/scale production/web 4", {"namespace": "production", "deployment": "web", "replicas": 4}),
        ("/logs production/web-1 --tail 20", {"namespace": "production", "pod": "web-1", "tail_lines": 20}),
    ],
)
def test_documented_commands_read_flags_and_namespace_slash_name(text: str, args: dict[str, Any]) -> None:
    intent = parse_slash(text)
    assert intent.kind is Kind.TOOL and intent.args == args


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("yes", "yes"),
        ("好的", "yes"),
        ("执行", "yes"),
        ("确认执行", "yes"),
        ("好的，执行吧", "yes"),
        ("go ahead", "yes"),
        ("no", "no"),
        ("算了，不看了", "no"),
        ("先不用了，取消吧", "no"),
        ("算了，不删了", "no"),
        ("never mind", "no"),
        ("返回", "back"),
        ("更多", "more"),
        ("next page", "more"),
        ("好的，看下 dev 的 pod", None),  # a request, not a control word
        ("不知道", None),
        ("dev", None),
    ],
)
def test_control_words_are_a_small_grammar_of_whole_messages(text: str, kind: str | None) -> None:
    assert control(text) == kind


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("进入 payment-api 容器执行 ls", "exec"),
        ("exec into the web pod", "exec"),
        ("给 web 设置环境变量 DEBUG=1", "set_env"),
        ("把 dev 的 payment-api 的日志级别改成 debug", "set_env"),
        ("看下 db 的 secret", "secret"),
        ("show me the password of redis", "secret"),
        ("ssh 到 node-1", "ssh"),
        ("删除 dev 命名空间", "delete_namespace"),
        ("delete namespace dev", "delete_namespace"),
        ("删掉 production 的 orders deployment", "delete_other"),
        ("把 production 的 pod 全部删掉", "bulk"),
        ("kubectl apply -f app.yaml", "apply"),
        ("帮我建一个叫 test 的命名空间", "apply"),
        ("帮我 port-forward 一下 dev 的 redis", "port_forward"),
        ("今天天气怎么样", "off_topic"),
        ("tell me a joke", "off_topic"),
    ],
)
def test_unsupported_requests_are_refused_by_declared_reasons(text: str, key: str) -> None:
    intent = parse(text)
    assert intent.kind is Kind.REFUSE and intent.value == key


@pytest.mark.parametrize(
    "text",
    [
        "删除 pod cart-service-v2-abc",
        "看下 payment-api 的环境变量",
        "show logs of auth-token-service",
        "进一步看看 pod",
    ],
)
def test_a_refusal_word_inside_a_name_or_a_read_is_no_refusal(text: str) -> None:
    assert parse(text).kind is Kind.TOOL


@pytest.mark.parametrize(
    ("text", "name", "kind"),
    [
        ("切到 staging 集群", "staging", "cluster"),
        ("切换到 dev 命名空间", "dev", "namespace"),
        ("换到 production", "production", None),
        ("切回 sandbox", "sandbox", None),
        ("switch to namespace dev", "dev", "namespace"),
        ("换到 staging 环境", "staging", None),  # "环境" is either: resolved by what exists
    ],
)
def test_switching_in_words_names_the_target_and_maybe_its_kind(text: str, name: str, kind: str | None) -> None:
    intent = parse(text)
    assert intent.kind is Kind.SWITCH and (intent.value, intent.tool) == (name, kind)


def test_a_short_word_for_a_cluster_means_the_only_name_it_is_part_of() -> None:
    assert pick_name("staging", ["sandbox", "sandbox-staging"]) == "sandbox-staging"
    assert pick_name("sandbox", ["sandbox", "sandbox-staging"]) == "sandbox"
    assert pick_name("api", ["a-api", "b-api"]) is None  # two fit: never a guess


VOCAB = Vocab(
    namespaces=frozenset({"default", "dev", "production"}),
    clusters=frozenset({"sandbox"}),
    nodes=frozenset({"node-1"}),
    where={
        "cart-service-v1": frozenset({"dev"}),
        "cart-service-v2": frozenset({"dev"}),
        "payment-api": frozenset({"dev"}),
        "payment-api-c2ws8rl9pf-9t44t": frozenset({"dev"}),
        "web": frozenset({"production"}),
    },
)


def test_words_are_placed_by_what_the_cluster_has_not_by_position() -> None:
    r = resolve(["production", "web", "help"], VOCAB)
    assert r.namespace == "production" and r.objects == ["web"] and r.unknown == ["help"]
    assert "help" not in r.suggestions  # nothing close: a filler, never a name


def test_a_typo_gets_the_closest_known_names() -> None:
    assert suggest("cart-servce", set(VOCAB.where))[0] == "cart-service"
    assert suggest("paymnet-api", set(VOCAB.where)) == ["payment-api"]
    assert suggest("dve", VOCAB.namespaces) == ["dev"]
    assert resolve(["cart-servce"], VOCAB).suggestions["cart-servce"][0] == "cart-service"


def test_an_object_is_found_in_the_namespaces_that_hold_it() -> None:
    assert VOCAB.namespaces_of("payment-api") == {"dev"}
    assert VOCAB.namespaces_of("nothing") == set()
