"""With an LLM configured: natural language goes to the planner (scripted OpenAI-compatible server over HTTP);
its reads run through the gate and cache; a failing model falls back to the rule parser with a note."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.agent.planner import OpenAIPlanner
from bot.app import Bot, build_bot
from bot.approvals.port import ReadOnlyGate
from bot.settings import load_settings
from bot.store import Store
from tests.conversation.conftest import Chat, make_chat
from tests.support.llm_server import ScriptedLLM, http_error, text, tool_call
from tools.sandbox import SandboxHandle


@pytest.fixture
async def llm_bot(store: Store, sandbox: SandboxHandle, llm_server: ScriptedLLM) -> AsyncIterator[Bot]:
    settings = load_settings(
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        llm_base_url=llm_server.base_url,
        llm_api_key="test-key",
        llm_timeout_seconds=5.0,
    )
    planner = OpenAIPlanner(settings, max_retries=0)
    bot = build_bot(settings, store=store, gate=ReadOnlyGate(), planner=planner, progress_after=0)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.close()


async def test_the_planner_answers_with_its_reads_rendered(llm_bot: Bot, llm_server: ScriptedLLM) -> None:
    chat: Chat = make_chat(llm_bot)
    llm_server.script(tool_call("list_pods", {"namespace": "dev"}), text("payment-api in dev is crash-looping."))
    card = await chat.say("what's going on in dev?")
    rendered = chat.text(card)
    assert "payment-api in dev is crash-looping." in rendered
    assert "CrashLoopBackOff" in rendered  # the pod table from the read it ran
    offered = llm_server.requests[0].tool_names
    assert "list_pods" in offered and len(offered) < len(llm_bot.toolbox.tools())  # only relevant tools


async def test_a_failing_model_falls_back_to_the_rule_parser_with_a_note(llm_bot: Bot, llm_server: ScriptedLLM) -> None:
    chat = make_chat(llm_bot)
    llm_server.script(http_error(500))
    card = await chat.say("dev 里有哪些 pod")
    rendered = chat.text(card)
    assert "内置规则" in rendered
    assert "payment-api" in rendered


async def test_a_mutation_the_model_wants_goes_to_the_gate_never_runs(
    llm_bot: Bot, llm_server: ScriptedLLM, sandbox: SandboxHandle
) -> None:
    chat = make_chat(llm_bot)
    llm_server.script(tool_call("restart_deployment", {"namespace": "dev", "deployment": "payment-api"}))
    await chat.say("please restart payment-api in dev")
    rendered = "\n".join(chat.text(c) for c in chat.out.cards)
    assert "restart_deployment" in rendered
    assert not [r for r in sandbox.cluster.requests if r[0] != "GET"]


async def test_quick_commands_and_bot_commands_never_call_the_model(llm_bot: Bot, llm_server: ScriptedLLM) -> None:
    chat = make_chat(llm_bot)
    card = await chat.say("[查看集群资源总览]")
    assert "sandbox" in chat.text(card)
    card = await chat.say("[刷新缓存]")
    assert card.title == "缓存已刷新"
    assert llm_server.requests == []
