"""When the LLM fails, the planner never raises: `failed` carries a clear reason in the user's language."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from bot.agent.planner import OpenAIPlanner
from bot.core.i18n import Lang
from bot.settings import Settings
from tests.agent.conftest import TOOLS, FakeCluster
from tests.support.llm_server import Reply, ScriptedLLM, delay, http_error, malformed, text, tool_call


async def _run(planner: OpenAIPlanner, cluster: FakeCluster, lang: Lang = Lang.EN) -> str | None:
    turn = await planner.run(text="pods?", lang=lang, tools=TOOLS, call_tool=cluster, history=[], context={})
    assert turn.answer == "" and turn.proposed == []
    return turn.failed


async def test_a_timeout_ends_in_a_failure_that_names_the_timeout(
    make_settings: Callable[..., Settings], llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    planner = OpenAIPlanner(make_settings(llm_timeout_seconds=0.3), max_retries=0)
    llm_server.script(delay(3, text("too late")))
    try:
        failed = await _run(planner, cluster)
    finally:
        await planner.aclose()
    assert failed == "The LLM did not answer within 0.3s."


async def test_a_timeout_in_the_middle_of_a_turn_still_fails_cleanly_in_chinese(
    make_settings: Callable[..., Settings], llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    planner = OpenAIPlanner(make_settings(llm_timeout_seconds=0.3), max_retries=0)
    llm_server.script(tool_call("list_pods", {"namespace": "shop"}), delay(3))
    try:
        turn = await planner.run(text="pods?", lang=Lang.ZH, tools=TOOLS, call_tool=cluster, history=[], context={})
    finally:
        await planner.aclose()
    assert turn.failed == "大模型 0.3 秒内没有响应。"
    assert len(turn.executed) == 1  # what ran before the failure is still reported


@pytest.mark.parametrize(
    ("status", "lang", "expected"),
    [
        (429, Lang.EN, "The LLM endpoint is rate-limiting (HTTP 429); try again shortly."),
        (429, Lang.ZH, "大模型服务限流（HTTP 429），请稍后再试。"),
        (500, Lang.EN, "The LLM endpoint failed (HTTP 500)."),
        (401, Lang.EN, "The LLM endpoint rejected the API key (HTTP 401); check LLM_API_KEY."),
        (400, Lang.EN, "The LLM endpoint refused the request (HTTP 400): model not supported"),
    ],
)
async def test_http_errors_of_the_endpoint_become_a_clear_failure(
    planner: OpenAIPlanner,
    llm_server: ScriptedLLM,
    cluster: FakeCluster,
    status: int,
    lang: Lang,
    expected: str,
) -> None:
    llm_server.script(http_error(status, "model not supported"))
    assert await _run(planner, cluster, lang) == expected


async def test_a_429_is_retried_once_when_retries_are_allowed(
    make_settings: Callable[..., Settings], llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    planner = OpenAIPlanner(make_settings(), max_retries=1)
    llm_server.script(http_error(429), text("second time lucky"))
    try:
        turn = await planner.run(text="hi", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={})
    finally:
        await planner.aclose()
    assert turn.failed is None and turn.answer == "second time lucky"
    assert len(llm_server.requests) == 2


@pytest.mark.parametrize(
    "body",
    ['{"id": "x", "choices": [ {"message": ', "<html>bad gateway</html>", '{"id": "x", "choices": []}'],
    ids=["cut-json", "html", "no-choices"],
)
async def test_a_malformed_response_becomes_a_failure(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster, body: str
) -> None:
    llm_server.script(malformed(body))
    assert await _run(planner, cluster) == "The LLM returned a response that could not be parsed."


async def test_a_refused_connection_becomes_a_failure_naming_the_endpoint(
    make_settings: Callable[..., Settings], cluster: FakeCluster
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the planner connects: nothing listens there
    planner = OpenAIPlanner(make_settings(llm_base_url=f"http://127.0.0.1:{port}/v1"), max_retries=0)
    try:
        failed = await _run(planner, cluster)
    finally:
        await planner.aclose()
    assert failed == f"Cannot reach the LLM endpoint 127.0.0.1:{port}."


async def test_an_empty_answer_is_a_failure_not_a_blank_message(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    llm_server.script(text(""))
    assert await _run(planner, cluster) == "The LLM returned an empty answer."


async def test_without_an_api_key_nothing_is_requested(
    make_settings: Callable[..., Settings], llm_server: ScriptedLLM, cluster: FakeCluster
) -> None:
    planner = OpenAIPlanner(make_settings(llm_api_key=None))
    try:
        failed = await _run(planner, cluster, Lang.ZH)
    finally:
        await planner.aclose()
    assert failed == "未配置大模型（LLM_API_KEY 为空）。"
    assert llm_server.requests == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (http_error(503), "The LLM endpoint failed (HTTP 503)."),
        (malformed("data: {not json}\n\n"), "The LLM returned a response that could not be parsed."),
    ],
    ids=["503", "garbage-sse"],
)
async def test_a_streamed_request_that_fails_is_a_failure_too(
    planner: OpenAIPlanner, llm_server: ScriptedLLM, cluster: FakeCluster, reply: Reply, expected: str
) -> None:
    seen: list[str] = []

    async def progress(so_far: str) -> None:
        seen.append(so_far)

    llm_server.script(reply)
    turn = await planner.run(
        text="pods?", lang=Lang.EN, tools=TOOLS, call_tool=cluster, history=[], context={}, on_progress=progress
    )
    assert turn.failed == expected
    assert seen == [] and turn.answer == ""
