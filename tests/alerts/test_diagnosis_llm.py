"""With an LLM configured (the scripted OpenAI-compatible server over real HTTP), a short summary goes on top of
the diagnosis; the ranked causes and the runbooks stay exactly what the rules found. The model gets redacted
evidence, no tools, and its answer is rendered through the safe markdown subset."""

from __future__ import annotations

import json

import pytest

from bot.agent.planner import OpenAIPlanner
from bot.alerts.causes import Cause, rank
from bot.alerts.diagnosis import Diagnoser, RunbookBook
from bot.alerts.evidence import Evidence, Target
from bot.alerts.summary import evidence_text
from bot.core.cards import Card, Markdown
from bot.core.i18n import Lang
from bot.render.feishu import render_feishu
from bot.settings import load_settings
from bot.tooling.gateway import ToolGateway
from tests.alerts.diagnosis_world import EVENT, World, gateway_fixture, incident, world_fixture  # noqa: F401
from tests.support.llm_server import ScriptedLLM, http_error, text
from tools.prom import PromClient

pytestmark = pytest.mark.timeout(300)
ANSWER = (
    "**orders** 的内存上限（256Mi）过低，容器反复被 OOMKilled；建议先执行“调高内存上限”预案。"
    " [点这里](http://evil.example/x) <at id=all></at>"
)


def planner(llm: ScriptedLLM) -> OpenAIPlanner:
    settings = load_settings(
        llm_base_url=llm.base_url, llm_api_key="test-key", llm_model="scripted-model", llm_timeout_seconds=5.0
    )
    return OpenAIPlanner(settings, max_retries=0)


def causes_block(card: Card) -> str:
    return next(b.text for b in card.blocks if isinstance(b, Markdown) and "可能原因" in b.text)


def ranking(card: Card) -> list[str]:
    """The causes' titles and confidence lines (evidence lines quote live log timestamps, so they are left out)."""
    return [line for line in causes_block(card).splitlines() if line[:1].isdigit()]


async def test_with_an_llm_the_summary_is_on_top_and_the_ranked_causes_and_runbooks_are_unchanged(
    world: World, gateway: ToolGateway, llm_server: ScriptedLLM
) -> None:
    assert world.prom is not None
    inc = incident("KubePodOOMKilled", "production", deployment="orders", container="orders", pod="orders-x-y")
    plain = Diagnoser(prom=PromClient(world.prom.url), book=RunbookBook(), gateway=gateway)
    llm = planner(llm_server)
    with_llm = Diagnoser(prom=PromClient(world.prom.url), book=RunbookBook(), gateway=gateway, planner=llm)
    try:
        llm_server.script(text(ANSWER))
        card, top = await with_llm.diagnose(inc, EVENT, Lang.ZH)
        base, base_top = await plain.diagnose(inc, EVENT, Lang.ZH)
    finally:
        await llm.aclose()

    summary = card.blocks[0]
    assert isinstance(summary, Markdown) and summary.text.startswith("**AI 摘要**") and "调高内存上限" in summary.text
    assert ranking(card) == ranking(base) and ranking(card)[0].startswith("1. **内存上限过低")
    assert [b.label for b in card.buttons] == [b.label for b in base.buttons]
    assert top == base_top, "the incident's cause comes from the rules, not from the model"

    # what the model was given: the ranked evidence as text, no tools to call, nothing secret
    (request,) = llm_server.requests
    assert "tools" not in request.body
    prompt = request.messages[-1]["content"]
    assert "OOMKilled" in prompt and "97%" in prompt and "内存上限过低" in prompt

    # its answer is data on the card: a link or a mention in it is shown as text, never rendered as one
    doc = json.dumps(render_feishu(card, sign=lambda action: "sig"), ensure_ascii=False)
    assert "evil.example/x" in doc, "the text is kept, escaped"
    assert "](http" not in doc and "<at id=all>" not in doc and "&#91;点这里&#93;" in doc


async def test_a_failing_llm_leaves_the_diagnosis_as_the_rules_made_it(
    world: World, gateway: ToolGateway, llm_server: ScriptedLLM
) -> None:
    assert world.prom is not None
    inc = incident("KubePodCrashLooping", "dev", deployment="payment-api", pod="payment-api-x-y")
    llm = planner(llm_server)
    try:
        llm_server.script(http_error(500))
        d = Diagnoser(prom=PromClient(world.prom.url), book=RunbookBook(), gateway=gateway, planner=llm)
        card, top = await d.diagnose(inc, EVENT, Lang.EN)
    finally:
        await llm.aclose()
    assert not any(isinstance(b, Markdown) and "AI summary" in b.text for b in card.blocks)
    assert top is not None and "CrashLoopBackOff" in top and card.buttons


def test_the_llm_evidence_is_redacted_and_bounded() -> None:
    ev = Evidence(Target("dev", "payment-api"), {}, "KubePodCrashLooping", None, 0.0, None, None)
    causes = [
        Cause("CrashLoopBackOff", 80, "容器反复崩溃", "crash", ["log: `DEBUG client user=checkout password=hunter2`"]),
        Cause("HighErrorRate", 55, "错误率升高", "errors", ["x" * 5000]),
    ]
    out = evidence_text(ev, causes, Lang.ZH)
    assert "hunter2" not in out and "password=" in out
    assert len(out) <= 3_000 and "truncated" in out
    assert "metrics: none" in out, "the model is told there were no metrics"
    assert rank(ev, Lang.ZH) == [], "no evidence, no cause"
