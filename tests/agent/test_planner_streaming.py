"""Streaming: the final answer arrives in pieces, progress is reported, tool-call fragments are reassembled."""

from __future__ import annotations

from collections.abc import Callable

from bot.agent.planner import OpenAIPlanner
from bot.core.i18n import Lang
from bot.settings import Settings
from bot.tooling.types import ToolCall
from tests.agent.conftest import TOOLS, FakeCluster
from tests.support.llm_server import ScriptedLLM, text, tool_call, tool_calls

ANSWER = "cart-7d9f8-abcde is in CrashLoopBackOff: the last run was OOMKilled. Raise its memory limit."


async def test_a_streamed_answer_reports_growing_progress_and_ends_with_the_full_text(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    seen: list[str] = []

    async def progress(so_far: str) -> None:
        seen.append(so_far)

    llm_server.script(
        tool_calls(
            ("list_pods", {"namespace": "shop"}), ("get_pod_logs", {"namespace": "shop", "pod": "cart-7d9f8-abcde"})
        ),
        text(ANSWER),
    )

    turn = await planner.run(
        text="why is cart down",
        lang=Lang.EN,
        tools=TOOLS,
        call_tool=cluster,
        history=[],
        context={},
        on_progress=progress,
    )

    assert all(r.stream for r in llm_server.requests)
    assert turn.failed is None and turn.answer == ANSWER
    # the two calls streamed as interleaved fragments come back whole and in order
    assert cluster.calls == [
        ToolCall("list_pods", {"namespace": "shop"}),
        ToolCall("get_pod_logs", {"namespace": "shop", "pod": "cart-7d9f8-abcde"}),
    ]
    assert len(seen) >= 2 and seen[-1] == ANSWER
    assert all(ANSWER.startswith(s) for s in seen)
    assert [len(s) for s in seen] == sorted({len(s) for s in seen})  # strictly growing


async def test_progress_is_throttled_but_the_final_text_is_always_delivered(
    make_settings: Callable[..., Settings], llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    planner = OpenAIPlanner(make_settings(), max_retries=0, progress_interval=3600)
    seen: list[str] = []

    async def progress(so_far: str) -> None:
        seen.append(so_far)

    llm_server.script(text(ANSWER))
    try:
        turn = await planner.run(
            text="?", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={}, on_progress=progress
        )
    finally:
        await planner.aclose()

    assert turn.answer == ANSWER
    assert len(seen) == 2 and seen[-1] == ANSWER  # the first piece, then (throttled) only the final text


async def test_a_streamed_mutation_is_proposed_and_a_failing_progress_callback_is_harmless(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    async def progress(so_far: str) -> None:
        raise RuntimeError("card update failed")

    args = {"namespace": "shop", "deployment": "cart", "replicas": 3}
    llm_server.script(tool_call("scale_deployment", args, content="I will scale it."))

    turn = await planner.run(
        text="scale cart to 3",
        lang=Lang.EN,
        tools=TOOLS,
        call_tool=cluster,
        history=[],
        context={},
        on_progress=progress,
    )

    assert turn.failed is None and turn.proposed == [ToolCall("scale_deployment", args)] and cluster.calls == []
    assert turn.answer.startswith("I will scale it.")
