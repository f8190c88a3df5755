"""The diagnosis card does not wait for the LLM: the ranked causes go out at once with a "summary pending" line,
and the same card is updated with the summary (or "summary unavailable") when the model answers or fails.
The model is the scripted OpenAI-compatible server over real HTTP; the cluster is the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.agent.planner import OpenAIPlanner
from bot.alerts.actions import AlertActions
from bot.alerts.cards import OP_DIAGNOSE
from bot.alerts.diagnosis import Diagnoser, RunbookBook
from bot.alerts.service import AlertService
from bot.core.actions import Action, ActionCodec
from bot.core.i18n import Lang
from bot.core.tasks import TaskTracker
from bot.settings import load_settings
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from tests.alerts.helpers import RecordingOutbox, Sent, card_text
from tests.alerts.test_review_oncall import CHAT, Passed, _open, click
from tests.support.llm_server import ScriptedLLM, delay, http_error, text
from tools.k8s.client import KubeClients

pytestmark = pytest.mark.timeout(300)
SUMMARY = "orders 的内存上限过低，容器被 OOMKilled；建议执行“调高内存上限”预案。"


@pytest.fixture
def codec() -> ActionCodec:
    return ActionCodec("summary-later-secret", 600)


@pytest.fixture
async def tools_gateway(sandbox: Any) -> AsyncIterator[ToolGateway]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=10.0)
    gw = ToolGateway([BuiltinSource(kube)])
    await gw.refresh()
    yield gw
    await kube.close()


@pytest.fixture
async def planner(llm_server: ScriptedLLM) -> AsyncIterator[OpenAIPlanner]:
    settings = load_settings(
        llm_base_url=llm_server.base_url, llm_api_key="test-key", llm_model="scripted-model", llm_timeout_seconds=60
    )
    llm = OpenAIPlanner(settings, max_retries=0)
    yield llm
    await llm.aclose()


async def _diagnose(
    service: AlertService,
    outbox: RecordingOutbox,
    codec: ActionCodec,
    gateway: ToolGateway,
    planner: OpenAIPlanner,
    tracker: TaskTracker,
) -> Sent:
    inc_id, ref = await _open(service, outbox)
    diagnoser = Diagnoser(prom=None, book=RunbookBook(), gateway=gateway, planner=planner)
    handler = AlertActions(service=service, codec=codec, inner=Passed(), diagnose=diagnoser.diagnose, tracker=tracker)
    await handler(
        click(codec, Action(OP_DIAGNOSE, {"i": inc_id}), "alice", ref), outbox.responder(CHAT.chat_key, Lang.ZH)
    )
    return next(s for s in outbox.sent if s.card.title.startswith("诊断"))


async def _updated(sent: Sent) -> str:
    for _ in range(1200):  # generous: a loaded machine; the condition, not the time, is what is asserted
        if sent.updates:
            return card_text(sent.updates[-1])
        await asyncio.sleep(0.1)
    raise AssertionError("the diagnosis card was never updated with the summary")


async def test_the_diagnosis_card_goes_out_before_a_slow_summary_which_then_replaces_its_pending_line(
    service: AlertService,
    outbox: RecordingOutbox,
    codec: ActionCodec,
    tools_gateway: ToolGateway,
    planner: OpenAIPlanner,
    tracker: TaskTracker,
    llm_server: ScriptedLLM,
) -> None:
    llm_server.script(delay(3.0, text(SUMMARY)))
    card = await _diagnose(service, outbox, codec, tools_gateway, planner, tracker)
    first = card_text(card.card)
    assert "正在生成摘要" in first and SUMMARY not in first, "the card went out before the model answered"
    assert "可能原因" in first and "内存上限过低" in first, "with the ranked causes already on it"
    assert not card.updates
    final = await _updated(card)
    assert "AI 摘要" in final and "调高内存上限" in final and "正在生成摘要" not in final
    assert [b.label for b in card.updates[-1].buttons] == [b.label for b in card.card.buttons]
    assert len([s for s in outbox.sent if s.card.title.startswith("诊断")]) == 1, "updated in place, not reposted"


async def test_a_failed_summary_turns_the_pending_line_into_summary_unavailable(
    service: AlertService,
    outbox: RecordingOutbox,
    codec: ActionCodec,
    tools_gateway: ToolGateway,
    planner: OpenAIPlanner,
    tracker: TaskTracker,
    llm_server: ScriptedLLM,
) -> None:
    llm_server.script(http_error(500))
    card = await _diagnose(service, outbox, codec, tools_gateway, planner, tracker)
    assert "正在生成摘要" in card_text(card.card)
    final = await _updated(card)
    assert "摘要暂不可用" in final and "正在生成摘要" not in final and "可能原因" in final
