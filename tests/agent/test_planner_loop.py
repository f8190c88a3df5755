"""The tool-calling loop, with the real openai client against the scripted server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.agent.planner import OpenAIPlanner
from bot.core.i18n import Lang
from bot.settings import Settings
from bot.tooling.types import ToolCall, ToolOutcome
from tests.agent.conftest import LIST_PODS, POD_LOGS, SCALE, TOOLS, FakeCluster
from tests.support.llm_server import ScriptedLLM, text, tool_call, tool_calls


async def test_a_read_tool_call_runs_and_its_result_reaches_the_model_before_the_final_answer(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(tool_call("list_pods", {"namespace": "shop"}), text("shop has 2 pods, both Running."))

    turn = await planner.run(
        text="list pods in shop", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={}
    )

    assert turn.failed is None
    assert turn.answer == "shop has 2 pods, both Running."
    assert [c for c, _ in turn.executed] == [ToolCall("list_pods", {"namespace": "shop"})]
    assert turn.steps == 2 and not turn.proposed and turn.incomplete is None
    first, second = llm_server.requests
    assert set(first.tool_names) == {"list_namespaces", "list_pods", "get_pod_logs", "scale_deployment"}
    (result,) = second.tool_messages
    assert "cart-7d9f8-abcde" in result["content"] and json.loads(result["content"])["ok"] is True


async def test_a_hallucinated_namespace_comes_back_as_not_found_and_the_model_corrects_itself(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(
        tool_call("list_pods", {"namespace": "shopping"}),
        tool_call("list_namespaces", {}),
        tool_call("list_pods", {"namespace": "shop"}),
        text("Found them in shop."),
    )

    turn = await planner.run(
        text="pods of the shopping app", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={}
    )

    assert turn.failed is None and turn.answer == "Found them in shop."
    outcomes = [(c.args.get("namespace"), o.ok, o.error_code) for c, o in turn.executed]
    assert outcomes == [("shopping", False, "not_found"), (None, True, None), ("shop", True, None)]
    fed_back = json.loads(llm_server.requests[1].tool_messages[0]["content"])
    assert fed_back["ok"] is False and fed_back["error_code"] == "not_found"
    assert 'namespaces "shopping" not found' in fed_back["error"]


async def test_a_made_up_tool_is_never_executed_and_the_model_is_told_once(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(tool_call("kubectl_exec", {"command": "rm -rf /"}), text("Sorry, I can only read."))

    turn = await planner.run(
        text="exec into cart", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={}
    )

    assert cluster.calls == [] and turn.executed == []
    assert turn.answer == "Sorry, I can only read."
    told = json.loads(llm_server.requests[1].tool_messages[0]["content"])
    assert told["error_code"] == "unknown_tool" and "list_pods" in told["error"]


async def test_a_model_that_keeps_inventing_tools_is_stopped_with_a_failure(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(tool_call("shell", {"cmd": "id"}), tool_call("run_command", {"cmd": "id"}))

    turn = await planner.run(text="run id", lang=Lang.ZH, tools=TOOLS, call_tool=cluster, history=[], context={})

    assert cluster.calls == []
    assert turn.failed is not None and "不存在的工具" in turn.failed


async def test_a_mutation_is_proposed_for_approval_and_not_executed(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    args = {"namespace": "shop", "deployment": "cart", "replicas": 4}
    llm_server.script(tool_call("scale_deployment", args, content="Scaling cart to 4."))

    turn = await planner.run(
        text="scale cart to 4", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={}
    )

    assert cluster.calls == [] and turn.executed == []
    assert turn.proposed == [ToolCall("scale_deployment", args)]
    assert "confirmation" in turn.answer and "replicas=4" in turn.answer
    assert len(llm_server.requests) == 1  # the loop stopped at the proposal


async def test_a_call_missing_required_arguments_is_handed_to_slot_filling(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(tool_call("get_pod_logs", {"namespace": "shop"}))

    turn = await planner.run(text="看下日志", lang=Lang.ZH, tools=TOOLS, call_tool=cluster, history=[], context={})

    assert cluster.calls == []
    assert turn.incomplete == ToolCall("get_pod_logs", {"namespace": "shop"})
    assert "pod" in turn.answer and "还需要补充" in turn.answer


async def test_invalid_json_arguments_are_fed_back_and_the_corrected_call_runs(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(
        tool_call("list_pods", '{"namespace": "shop"'),
        tool_call("list_pods", {"namespace": "shop", "limit": "many"}),
        tool_call("list_pods", {"namespace": "shop"}),
        text("ok"),
    )

    turn = await planner.run(text="pods in shop", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={})

    assert cluster.calls == [ToolCall("list_pods", {"namespace": "shop"})]
    assert turn.answer == "ok"
    bad_json = json.loads(llm_server.requests[1].tool_messages[0]["content"])
    bad_type = json.loads(llm_server.requests[2].tool_messages[1]["content"])
    assert bad_json["error_code"] == "invalid_arguments" and "invalid JSON" in bad_json["error"]
    assert bad_type["error_code"] == "invalid_arguments" and "limit" in bad_type["error"]


async def test_the_cluster_comes_from_the_context_never_from_the_model(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(tool_call("list_pods", {"namespace": "shop", "cluster": "made-up"}), text("done"))

    await planner.run(
        text="pods",
        lang=Lang.EN,
        tools=[LIST_PODS],
        call_tool=cluster,
        history=[],
        context={"cluster": "prod-east", "namespace": "shop"},
    )

    assert cluster.calls == [ToolCall("list_pods", {"namespace": "shop", "cluster": "prod-east"})]
    offered = llm_server.requests[0].body["tools"][0]["function"]["parameters"]
    assert "cluster" not in offered["properties"]


async def test_reads_and_a_mutation_in_one_step_run_the_reads_and_propose_the_mutation(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(
        tool_calls(
            ("list_pods", {"namespace": "shop"}),
            ("scale_deployment", {"namespace": "shop", "deployment": "cart", "replicas": 0}),
        )
    )

    turn = await planner.run(text="stop cart", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={})

    assert [c.tool for c in cluster.calls] == ["list_pods"]
    assert [c.tool for c in turn.proposed] == ["scale_deployment"]


async def test_the_step_cap_forces_a_final_answer_without_tools(
    make_settings: Callable[..., Settings], llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    planner = OpenAIPlanner(make_settings(llm_max_steps=2), max_retries=0)
    llm_server.script(tool_call("list_pods", {"namespace": "shop"}), text("Here is what I have."))
    try:
        turn = await planner.run(text="dig deep", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={})
    finally:
        await planner.aclose()

    assert turn.steps == 2 and turn.answer == "Here is what I have."
    assert [r.body.get("tool_choice") for r in llm_server.requests] == ["auto", "none"]


async def test_the_reply_language_follows_the_user_and_context_and_history_reach_the_prompt(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(text("好的"), text("fine"))
    history = [
        {"role": "user", "content": "cart 怎么了"},
        {"role": "assistant", "content": "cart-7d9f8-abcde 在 CrashLoopBackOff"},
        {"role": "tool", "content": "ignored: not a chat turn"},
    ]
    context = {"cluster": "prod-east", "namespace": "shop", "pod": "cart-7d9f8-abcde"}

    await planner.run(text="它的日志", lang=Lang.ZH, tools=TOOLS, call_tool=cluster, history=history, context=context)
    await planner.run(text="and now?", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={})

    zh, en = llm_server.requests
    assert "Reply in Simplified Chinese" in zh.system and "Reply in English" not in zh.system
    assert "Reply in English" in en.system and "Simplified Chinese" not in en.system
    assert "pod: cart-7d9f8-abcde" in zh.system and "namespace: shop" in zh.system
    assert "DATA, never" in zh.system
    chat = [(m["role"], m["content"]) for m in zh.messages if m["role"] != "system"]
    assert chat == [
        ("user", "cart 怎么了"),
        ("assistant", "cart-7d9f8-abcde 在 CrashLoopBackOff"),
        ("user", "它的日志"),
    ]


async def test_tool_output_is_bounded_with_a_visible_marker_before_it_reaches_the_model(
    make_settings: Callable[..., Settings], llm_server: ScriptedLLM
) -> None:
    cluster = FakeCluster(log_lines=3_000)
    planner = OpenAIPlanner(make_settings(), max_retries=0, per_result_chars=4_000, total_chars=16_000)
    llm_server.script(tool_call("get_pod_logs", {"namespace": "shop", "pod": "cart-7d9f8-abcde"}), text("OOM."))
    try:
        turn = await planner.run(
            text="logs of cart", lang=Lang.EN, tools=[POD_LOGS], call_tool=cluster, history=[], context={}
        )
    finally:
        await planner.aclose()

    (fed,) = llm_server.requests[1].tool_messages
    assert len(fed["content"]) <= 4_000
    data = json.loads(fed["content"])["data"]
    assert data["lines"][-1] == "line 2999 of cart-7d9f8-abcde"  # logs keep their newest lines
    assert "older lines not shown; narrow the query" in data["_truncated"]
    full = turn.executed[0][1].data
    assert full is not None and len(full["lines"]) == 3_000  # the engine still has the full result


async def test_a_tool_source_that_raises_is_reported_to_the_model_not_to_the_user(
    planner: OpenAIPlanner, llm_server: ScriptedLLM
) -> None:
    async def broken(call: ToolCall) -> ToolOutcome:
        raise ConnectionResetError("peer went away")

    llm_server.script(tool_call("list_pods", {"namespace": "shop"}), text("The cluster API is unreachable."))

    turn = await planner.run(text="pods", lang=Lang.EN, tools=TOOLS, call_tool=broken, history=[], context={})

    assert turn.failed is None and turn.executed[0][1].ok is False
    assert "peer went away" in llm_server.requests[1].tool_messages[0]["content"]


async def test_only_the_offered_tools_can_run_even_if_the_model_names_another_real_one(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(
        tool_call("scale_deployment", {"namespace": "shop", "deployment": "cart", "replicas": 9}), text("no")
    )

    turn = await planner.run(text="pods", lang=Lang.EN, tools=[LIST_PODS], call_tool=cluster, history=[], context={})

    assert turn.proposed == [] and cluster.calls == [] and turn.answer == "no"
    assert SCALE.name not in llm_server.requests[0].tool_names


async def test_the_same_change_asked_twice_in_one_step_is_proposed_once(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    args = {"namespace": "shop", "deployment": "cart", "replicas": 2}
    llm_server.script(tool_calls(("scale_deployment", args), ("scale_deployment", dict(reversed(args.items())))))

    turn = await planner.run(
        text="scale cart to 2", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={}
    )

    assert turn.proposed == [ToolCall("scale_deployment", args)]


async def test_a_model_that_ignores_the_step_cap_gets_a_bounded_stop_not_another_round(
    make_settings: Callable[..., Settings], llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    planner = OpenAIPlanner(make_settings(llm_max_steps=2), max_retries=0)
    llm_server.script(tool_call("list_pods", {"namespace": "shop"}), tool_call("list_pods", {"namespace": "shop"}))
    try:
        turn = await planner.run(text="loop", lang=Lang.ZH, tools=TOOLS, call_tool=cluster, history=[], context={})
    finally:
        await planner.aclose()

    assert len(cluster.calls) == 1 and turn.steps == 2
    assert turn.failed is None and "已达到步数上限（2 步）" in turn.answer and "list_pods" in turn.answer
