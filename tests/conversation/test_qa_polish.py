"""What an on-duty user stumbled over in QA: each test pins one fix (parser tables first, then dialogues
against the sandbox over real HTTP with real Redis)."""

from __future__ import annotations

import pytest

from bot.conversation.flowview import describe_request
from bot.conversation.parser import Kind, is_more_request, parse
from bot.conversation.state import Flow
from bot.core.i18n import Lang
from bot.render.model import Card
from bot.render.text import render_card
from bot.render.views import memory, result_blocks
from bot.tooling.types import ToolInfo
from tests.conversation.conftest import Chat
from tests.conversation.test_dialogue import pods_of
from tools.sandbox import SandboxHandle

# ---------------------------------------------------------------- parser


@pytest.mark.parametrize(
    "text",
    [
        "orders 为什么一直重启",
        "orders 老是反复重启",
        "why does orders keep restarting",
        "why is orders crashing",
    ],
)
def test_asking_why_something_restarts_is_a_diagnosis_never_a_restart(text: str) -> None:
    intent = parse(text)
    assert intent.tool == "workload_health"
    assert intent.plan  # shown as a read-only plan first
    assert intent.hints == {"name": "orders"}


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("重启 orders", "restart_deployment"),
        ("restart orders in production", "restart_deployment"),
        ("重启一下 orders 的 pod", "delete_pod"),
    ],
)
def test_a_plain_restart_request_is_still_a_restart(text: str, tool: str) -> None:
    assert parse(text).tool == tool


def test_a_pasted_kubectl_line_never_takes_a_flag_value_as_the_object() -> None:
    pods = parse("kubectl get pods -n dev")
    assert pods.tool == "list_pods"
    assert pods.args == {"namespace": "dev"}
    assert pods.hints == {}  # not name_filter "n"
    logs = parse("kubectl logs orders -n production -c web --tail 20")
    assert logs.args == {"namespace": "production", "container": "web", "tail_lines": 20}
    assert logs.hints == {"pod": "orders"}


@pytest.mark.parametrize(
    ("text", "container", "hints", "refers"),
    [
        ("logs of container nginx-sidecar", "nginx-sidecar", {}, True),
        ("nginx-sidecar 容器的日志", "nginx-sidecar", {}, True),
        ("container sidecar", "sidecar", {}, True),
        ("web 的 nginx-sidecar 容器日志", "nginx-sidecar", {"pod": "web"}, False),
        ("show me the sidecar container logs of web in production", "sidecar", {"pod": "web"}, False),
    ],
)
def test_a_container_named_in_words_becomes_the_container_argument(
    text: str, container: str, hints: dict[str, str], refers: bool
) -> None:
    intent = parse(text)
    assert intent.tool == "pod_logs"
    assert intent.args.get("container") == container
    assert intent.hints == hints
    assert intent.refers is refers


@pytest.mark.parametrize("text", ["上一次的日志", "previous logs", "看下上次的日志"])
def test_previous_logs_without_a_name_refer_to_the_pod_just_shown(text: str) -> None:
    intent = parse(text)
    assert intent.tool == "pod_logs" and intent.args.get("previous") is True
    assert intent.refers


@pytest.mark.parametrize("text", ["warning events", "dev 的告警事件", "show warning events in dev"])
def test_warning_events_ask_for_warnings_only_and_warning_is_not_an_object(text: str) -> None:
    intent = parse(text)
    assert intent.tool == "list_events"
    assert intent.args.get("warnings_only") is True
    assert intent.hints.get("object_name") != "warning"


@pytest.mark.parametrize("text", ["more", "下一页", "更多", "next page"])
def test_more_and_next_page_are_paging_requests(text: str) -> None:
    assert is_more_request(text)
    assert parse(text).kind is Kind.MORE  # a control word, understood at every step


def test_more_inside_a_sentence_is_not_a_paging_request() -> None:
    assert not is_more_request("show more logs of web")


def test_the_health_check_question_names_the_workload_once() -> None:
    info = ToolInfo(
        name="workload_health",
        description="",
        input_schema={"properties": {"namespace": {}, "name": {}}, "required": ["namespace", "name"]},
        mutates=False,
        title_en="Workload diagnosis",
    )
    flow = Flow(tool="workload_health", args={"name": "payment-api"}, hints={"name": "payment-api"})
    line = describe_request(Lang.EN, info, flow)
    assert line.count("payment-api") == 1, line


def test_numbers_and_switches_in_a_pending_request_show_their_meaning() -> None:
    info = ToolInfo(name="pod_logs", description="", input_schema={}, mutates=False, title_en="Pod logs")
    flow = Flow(tool="pod_logs", args={"tail_lines": 50, "previous": True, "namespace": "dev"})
    line = describe_request(Lang.EN, info, flow)
    # said in words, never the parameter names (`tail_lines=50`)
    assert "last 50 lines" in line and "previous (crashed) instance" in line and "`dev`" in line
    assert "tail_lines" not in line


# ---------------------------------------------------------------- dialogues


def web_pod(sandbox: SandboxHandle) -> str:
    return pods_of(sandbox, "production", "web-")[0]


async def test_container_sidecar_after_the_web_logs_shows_the_sidecar_logs_once(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    pod = web_pod(sandbox)
    card = await chat.say(f"/logs {pod} -n production")
    assert "`web`" in chat.text(card)
    before = len(chat.out.cards)
    card = await chat.say("container sidecar")
    text = chat.text(card)
    assert "`nginx-sidecar`" in text and pod in card.title
    assert len(chat.out.cards) - before == 1  # one answer, not a loop of re-asks
    assert text.count("sidecar` was not found") <= 1


async def test_a_wrong_container_is_recovered_once_by_offering_the_real_ones(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    pod = web_pod(sandbox)
    await chat.say("/help")  # the first message also gets the welcome card: count replies after it
    before = len(chat.out.cards)
    card = await chat.say(f"/logs {pod} -n production -c nosuch")
    assert len(chat.out.cards) - before == 1
    assert card.title == "Which container?"
    assert {"web", "nginx-sidecar"} <= {b.label for b in card.buttons}
    assert "nosuch" in chat.text(card)
    card = await chat.press("nginx-sidecar")
    assert "`nginx-sidecar`" in chat.text(card)


async def test_previous_logs_of_a_container_that_never_restarted_say_so_with_next_steps(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    pod = web_pod(sandbox)
    await chat.say(f"查看 production 里 {pod} 的日志")
    card = await chat.say("上一次的日志")
    assert card.title == "没有上一次的日志"
    assert "没有重启过" in chat.text(card)
    assert "Traceback" not in chat.text(card) and "invalid" not in chat.text(card).lower()
    card = await chat.press("当前日志")
    assert pod in card.title and "`web`" in chat.text(card)


async def test_a_pod_asked_for_in_the_wrong_namespace_is_offered_where_it_lives(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    orders = pods_of(sandbox, "production", "orders-")[0]
    card = await chat.say("describe pod orders in dev")
    assert card.title == "Which namespace?"
    assert "production" in chat.text(card) and "`dev`" in chat.text(card)
    assert card.buttons[0].label == "production"
    card = await chat.press("production")
    assert orders in card.title


async def test_a_wrong_namespace_for_a_change_is_offered_but_never_switched_silently(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    card = await chat.say("restart orders in dev")
    assert card.title == "Which namespace?"
    assert [b.label for b in card.buttons][0] == "production"
    card = await chat.press("production")
    assert card.title == "Read-only mode"  # the proposal went to the gate with the deployment in production


@pytest.mark.parametrize(
    ("text", "title_part", "tool_rows"),
    [("production 的事件", "production", "Pod/orders-"), ("dev 的服务", "dev", "payment-api")],
)
async def test_a_namespace_named_before_de_is_used_as_the_namespace(
    chat: Chat, text: str, title_part: str, tool_rows: str
) -> None:
    card = await chat.say(text)
    assert card.title.endswith(f"· {title_part}"), card.title
    assert tool_rows in chat.text(card)


async def test_an_object_named_before_de_is_still_an_object(chat: Chat, sandbox: SandboxHandle) -> None:
    card = await chat.say("payment-api 的事件")
    assert card.title == "在哪个命名空间？"
    assert card.buttons[0].label == "dev"


async def test_an_out_of_range_replica_count_is_asked_again_with_the_allowed_range(chat: Chat) -> None:
    card = await chat.say("/scale web 99999 -n production")
    assert card.title == "How many replicas? Type a number."
    text = chat.text(card)
    assert "0 to 1000" in text and "99999" in text
    card = await chat.say("5")
    assert card.title == "Read-only mode"


async def test_an_out_of_range_tail_is_clamped_to_the_nearest_allowed_value_with_a_note(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    pod = pods_of(sandbox, "dev", "cart-service-v1")[0]
    card = await chat.say(f"/logs {pod} -n dev --tail 999999")
    assert pod in card.title
    assert "using 5000" in chat.text(card)
    card = await chat.say(f"/logs {pod} -n dev --tail -5")
    assert pod in card.title
    assert "using 1" in chat.text(card)
    assert "last 1 lines" in chat.text(card)


async def test_typing_more_at_a_long_question_shows_the_next_page(chat: Chat, sandbox: SandboxHandle) -> None:
    for i in range(10):
        sandbox.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{i:02d}"}})
    card = await chat.say("/logs")
    first = [b.label for b in card.buttons]
    assert any(label.startswith("More (9-") for label in first)
    card = await chat.say("more")
    second = [b.label for b in card.buttons]
    assert card.title == "Which namespace?"
    assert not set(first[:8]) & set(second[:8])
    assert "showing 9-" in chat.text(card)
    card = await chat.say("dev")  # typed answers still work on any page
    assert card.title == "Which pod?"


async def test_more_on_the_last_page_starts_over_and_says_so(chat: Chat) -> None:
    await chat.say("/logs")
    card = await chat.say("下一页")
    assert "这是第一页" in chat.text(card)
    assert "dev" in [b.label for b in card.buttons]


async def test_an_english_sentence_during_a_chinese_question_is_answered_in_english(chat: Chat) -> None:
    card = await chat.say("看下 cart-service 的日志")
    assert card.title == "在哪个命名空间？"
    card = await chat.say("show me the nodes")
    assert card.title == "Nodes"
    card = await chat.say("看下 cart-service 的日志")
    card = await chat.say("dev")  # a bare answer keeps the user's language
    assert card.title == "是哪个 Pod？"


async def test_a_name_typed_at_the_namespace_question_finds_where_it_lives(chat: Chat) -> None:
    card = await chat.say("/logs")
    assert card.title == "Which namespace?"
    card = await chat.say("cart-service")
    assert card.title == "Which namespace?"
    assert "I found" in chat.text(card) and card.buttons[0].label == "dev"
    card = await chat.press("dev")
    assert card.title == "Which pod?"
    assert all("cart-service" in b.label for b in card.buttons[:-1])


async def test_the_workload_question_offers_the_namespaces_deployments(chat: Chat) -> None:
    await chat.say("/health")
    card = await chat.say("dev")
    assert card.title == "Which workload? Pick one, or type its name or a prefix."
    assert {"payment-api", "cart-service-v1"} <= {b.label for b in card.buttons}
    card = await chat.say("cart-service")  # a prefix covers both versions, not an ambiguity
    assert card.title.startswith("Workload diagnosis") and "cart-service-v1" in chat.text(card)
    assert "cart-service-v2" in chat.text(card)


async def test_previous_logs_typed_while_choosing_refine_the_pending_request(chat: Chat) -> None:
    await chat.say("logs of cart-service")
    card = await chat.say("previous logs")
    assert card.title == "Which namespace?"
    assert "cart-service" in chat.text(card) and "previous (crashed) instance" in chat.text(card)


async def test_it_without_any_pod_seen_says_so(chat: Chat) -> None:
    card = await chat.say("它的事件")
    assert "还不知道「它」指哪个 Pod" in render_card(card)


async def test_logs_of_a_pod_that_never_started_explain_why_and_point_to_its_events(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    frontend = pods_of(sandbox, "dev", "frontend-")[0]
    card = await chat.say(f"看下 dev 里 {frontend} 的日志")
    assert card.title == "还没有日志"
    assert "ImagePullBackOff" in chat.text(card) and "参数不正确" not in chat.text(card)
    card = await chat.press("查看事件")
    assert frontend in card.title and "ErrImagePull" in chat.text(card)


async def test_a_pod_that_never_started_is_offered_its_events_and_details_not_its_logs(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    frontend = pods_of(sandbox, "dev", "frontend-")[0]
    card = await chat.say("/status")
    labels = [b.label for b in card.buttons]
    assert f"Events {frontend[:27]}" in " ".join(labels)
    assert not any(label.startswith("Logs frontend") for label in labels)
    card = await chat.say("pods in production")
    labels = [b.label for b in card.buttons]
    assert any(label.startswith("Describe report-worker") for label in labels), labels
    assert not any(label.startswith("Logs report-worker") for label in labels)


async def test_a_misspelt_namespace_is_answered_with_the_likely_one(chat: Chat) -> None:
    card = await chat.say("pods in dve")
    assert card.title == "Which namespace?"
    assert "Did you mean `dev`?" in chat.text(card)
    card = await chat.say("/use ns prodution")
    assert "Did you mean `production`?" in chat.text(card)
    assert "`dev`" not in chat.text(card).split("Did you mean")[1].splitlines()[0]


async def test_a_pod_filter_that_matches_nothing_says_so_and_offers_the_unfiltered_list(chat: Chat) -> None:
    card = await chat.say("show me teh pods")
    assert "No pod name contains `teh`" in chat.text(card)
    card = await chat.press("All pods, no filter")
    assert "cart-service-v1" in chat.text(card) and "orders-" in chat.text(card)


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("删除这个pod", "delete_pod", {}),
        ("dev里的pod", "list_pods", {"namespace": "dev"}),
        ("看下cart-service的logs", "pod_logs", {}),
        ("查看dev的deployment", "list_deployments", {}),
    ],
)
def test_english_keywords_written_right_next_to_chinese_are_understood(
    text: str, tool: str, args: dict[str, object]
) -> None:
    intent = parse(text)
    assert intent.tool == tool
    assert intent.args == args


async def test_restart_it_after_a_pods_logs_offers_that_pods_deployment_to_confirm(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    pod = pods_of(sandbox, "dev", "payment-api-")[0]
    await chat.say(f"看下 dev 里 {pod} 的日志")
    card = await chat.say("重启它")
    assert card.title == "在哪个命名空间？"
    assert "payment-api" in chat.text(card) and card.buttons[0].label == "dev"
    card = await chat.press("dev")
    assert card.title == "只读模式"  # proposed to the gate (which confirms); nothing ran here


async def test_delete_this_pod_names_the_pod_just_shown_but_still_asks_where(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    pod = pods_of(sandbox, "dev", "payment-api-")[0]
    await chat.say(f"看下 dev 里 {pod} 的日志")
    card = await chat.say("删除这个pod")
    assert card.title == "在哪个命名空间？"
    assert pod in chat.text(card)


async def test_a_partial_pod_name_in_a_command_is_not_called_gone(chat: Chat, sandbox: SandboxHandle) -> None:
    orders = pods_of(sandbox, "production", "orders-")[0]
    card = await chat.say("/logs orders -n production")
    assert orders in card.title
    assert "not a full pod name" in chat.text(card)
    assert "may be gone" not in chat.text(card)


async def test_a_namespace_prefix_is_suggested_in_full(chat: Chat) -> None:
    card = await chat.say("/deploys prod")
    assert "Did you mean `production`?" in chat.text(card)


@pytest.mark.parametrize(
    ("quantity", "shown"),
    [("16393576Ki", "15.6Gi"), ("524288Ki", "512Mi"), ("2Gi", "2.0Gi"), ("1000M", "1000M"), ("", "")],
)
def test_node_memory_reads_in_gibibytes_not_kibibytes(quantity: str, shown: str) -> None:
    assert memory(quantity) == shown


def test_a_dry_run_preview_says_so_in_the_users_language() -> None:
    preview = {"action": "scale", "kind": "Deployment", "namespace": "dev", "name": "web", "dry_run": True}
    zh = render_card(Card(title="t", blocks=tuple(result_blocks("scale_deployment", preview, "", Lang.ZH))))
    assert "预演，未改动" in zh and "dry run" not in zh
    en = render_card(Card(title="t", blocks=tuple(result_blocks("scale_deployment", preview, "", Lang.EN))))
    assert "(dry run, nothing changed)" in en


async def test_its_logs_after_a_health_check_mean_its_one_failing_pod(chat: Chat, sandbox: SandboxHandle) -> None:
    orders = pods_of(sandbox, "production", "orders-")[0]
    await chat.say("/health orders -n production")
    card = await chat.say("它的日志")
    assert orders in card.title and card.title.startswith("Pod 日志")


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("把 web 扩容到 100000 个副本", "replicas", 100000),
        ("scale web to 99999 in production", "replicas", 99999),
        ("logs of web last 100000 lines", "tail_lines", 100000),
    ],
)
def test_a_huge_number_is_kept_whole_never_cut_to_its_first_digits(text: str, key: str, value: int) -> None:
    assert parse(text).args[key] == value


async def test_a_huge_replica_count_in_words_is_refused_with_the_number_the_user_gave(chat: Chat) -> None:
    card = await chat.say("把 production 里的 web 扩容到 100000 个副本")
    assert card.title == "要调整到几个副本？请输入数字。"
    assert "100000" in chat.text(card) and "0 到 1000" in chat.text(card)


@pytest.mark.parametrize("text", ["哪些 pod 在重启", "有 pod 在重启吗", "which pods are restarting"])
def test_asking_which_pods_restart_lists_pods_and_never_proposes_a_delete(text: str) -> None:
    intent = parse(text)
    assert intent.tool == "list_pods"


@pytest.mark.parametrize(
    ("text", "name"),
    [("frontend 拉不到镜像", "frontend"), ("payment-api 一直 crash", "payment-api"), ("is web down", "web")],
)
def test_a_symptom_with_a_name_is_a_health_check_of_that_workload(text: str, name: str) -> None:
    intent = parse(text)
    assert intent.tool == "workload_health" and intent.plan
    assert intent.hints == {"name": name}


@pytest.mark.parametrize(
    ("text", "tool", "args", "hints"),
    [
        ("有没有报错的 pod", "list_pods", {"only_unhealthy": True}, {}),
        ("查一下报错", "cluster_overview", {}, {}),
        ("top pods", "list_pods", {}, {}),
        ("scale down web to 1", "scale_deployment", {"replicas": 1}, {"deployment": "web"}),
        ("可以帮我重启 orders 吗", "restart_deployment", {}, {"deployment": "orders"}),
    ],
)
def test_everyday_on_duty_phrasings_reach_the_right_tool(
    text: str, tool: str, args: dict[str, object], hints: dict[str, str]
) -> None:
    intent = parse(text)
    assert (intent.tool, intent.args, intent.hints) == (tool, args, hints)


async def test_more_at_a_found_it_here_shortlist_shows_every_option(chat: Chat) -> None:
    card = await chat.say("logs of cart-service")
    assert [b.label for b in card.buttons][0] == "dev" and "production" not in [b.label for b in card.buttons]
    card = await chat.say("more")
    assert {"dev", "production", "default"} <= {b.label for b in card.buttons}


async def test_a_bare_number_typed_in_a_chat_picks_that_button(chat: Chat) -> None:
    card = await chat.say("/logs")
    second = card.buttons[1].label
    card = await chat.say("2")
    assert card.title == "Which pod?" and f"`{second}`" in chat.text(card)


async def test_a_position_on_the_second_page_counts_from_that_page(chat: Chat, sandbox: SandboxHandle) -> None:
    for i in range(10):
        sandbox.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{i:02d}"}})
    await chat.say("/logs")
    card = await chat.say("more")
    second_here = card.buttons[1].label
    card = await chat.say("the second one")
    assert f"`{second_here}`" in chat.text(card)


@pytest.mark.parametrize(
    ("text", "tool", "position"),
    [
        ("第二个的日志", "pod_logs", 2),
        ("describe the last one", "describe_pod", -1),
        ("events of the first one", "list_events", 1),
    ],
)
def test_a_position_with_a_pod_tool_points_at_a_row_of_the_last_list(text: str, tool: str, position: int) -> None:
    intent = parse(text)
    assert intent.tool == tool and intent.position == position


async def test_the_second_ones_logs_after_a_pod_list_are_that_rows_logs(chat: Chat, sandbox: SandboxHandle) -> None:
    rows = sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("Pod", "dev"))
    card = await chat.say("dev 的 pod")
    assert card.title.endswith("· dev")
    shown = [
        line.split()[1]
        for line in chat.text(card).splitlines()[2:]
        if line.startswith("│ ") and line.split()[1] in rows
    ]
    card = await chat.say("第二个的日志")
    assert card.title == f"Pod 日志 · dev/{shown[1]}"
    card = await chat.say("describe the last one")
    assert card.title == f"Describe pod · dev/{shown[-1]}"
