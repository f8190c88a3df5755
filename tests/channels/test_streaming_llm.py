"""A long LLM answer streamed into ONE card on each platform, through the real SDKs against the emulators: the
real bot (real Redis, the sandbox cluster over HTTP), the scripted OpenAI-compatible server streaming tokens.

Feishu: a CardKit card entity in streaming mode, text updates with a rising sequence, streaming closed, then the
final card with its buttons. DingTalk: an AI card, `PUT /v1.0/card/streaming` >= 800 ms apart, finalised, then
FINISHED with its buttons. The emulators refuse anything the platforms would refuse; each test also asserts that
nothing was refused and no stream was left open. The measured update rate of the card is printed (`-s`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.agent.planner import OpenAIPlanner
from bot.app import build_bot
from bot.settings import Settings
from bot.store import Store
from tests.channels.conftest import Serve
from tests.channels.emulators.dingtalk import DingTalkEmulator, SentCard
from tests.channels.emulators.feishu import FeishuEmulator, FeishuMessage
from tests.channels.test_scenarios_real_bot import eventually, real_bot_settings
from tests.support.llm_server import ScriptedLLM, broken_stream, slow_text, tool_call

# The streamed answer lasts STREAM_SECONDS (60 by default, as the issue asks); the checks do not depend on it.
STREAM_SECONDS = float(os.environ.get("KUBEDUTY_STREAM_TEST_SECONDS", "60"))
ANSWER = " ".join(f"step{i}: payment-api in dev keeps crashing (OOMKilled, exit 137);" for i in range(40))
QUESTION = "what's going on with the pods in dev?"
WAIT = STREAM_SECONDS + 90  # generous: a loaded 2-core machine
MANY = STREAM_SECONDS / 3  # at 60 s: more than the 20 edits Feishu allows a PATCHed message


def llm_settings(base: Settings, llm: ScriptedLLM, **extra: Any) -> Settings:
    return base.model_copy(
        update={
            "llm_base_url": llm.base_url,
            "llm_api_key": SecretStr("test-key"),
            "llm_timeout_seconds": 30.0,
            **extra,
        }
    )


def llm_builder(store: Store) -> Any:
    def build(settings: Settings) -> Any:
        return build_bot(settings, store=store, planner=OpenAIPlanner(settings, max_retries=0))

    return build


def report(platform: str, updates: int, rate: float, extra: str = "") -> None:
    print(f"\n[stream-rate] {platform}: {updates} text updates of one card, {rate:.2f} updates/s {extra}")


# --- Feishu --------------------------------------------------------------------------------------------------


def fs_answer(gw: FeishuEmulator) -> FeishuMessage | None:
    for msg in gw.sent():
        if msg.msg_type == "interactive" and gw.cardkit.is_entity_message(msg.message_id):
            return msg
    return None


async def test_a_sixty_second_llm_answer_streams_into_one_feishu_card_that_ends_with_its_buttons(
    store: Store,
    redis_url: str,
    sandbox: Any,
    feishu_gateway: FeishuEmulator,
    serve_bot: Serve,
    tmp_path: Path,
    llm_server: ScriptedLLM,
) -> None:
    gw = feishu_gateway
    llm_server.script(tool_call("list_pods", {"namespace": "dev"}), slow_text(ANSWER, seconds=STREAM_SECONDS))
    settings = llm_settings(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw), llm_server)
    await serve_bot(settings, llm_builder(store))
    await gw.wait_connected()

    await gw.say(QUESTION)
    msg = await eventually(lambda: fs_answer(gw), "a card sent by card_id")
    card = gw.cardkit.for_message(msg.message_id)
    await eventually(
        lambda: card if (not card.streaming and msg.buttons()) else None,
        "the streamed card closed, with buttons",
        within=WAIT,
        state=lambda: (len(card.text_updates), card.streaming, gw.cardkit.refused),
    )

    assert gw.cardkit.refused == []
    gw.cardkit.assert_all_closed()
    assert ANSWER[-60:] in msg.text.replace("&#95;", "_")  # the whole answer stays, escaped like any card text
    assert "payment-api" in msg.text  # the read it ran is rendered too
    assert [m for m in gw.sent() if "step0" in m.text or "…" in m.title] == [msg]  # one card, no placeholder
    assert msg.patches == 0  # never PATCHed: CardKit has no 20-edit cap
    assert len(card.text_updates) > MANY  # more updates than a PATCHed message would allow (at 60 s)
    assert card.max_in_a_second() <= 10
    texts = [v["body"]["elements"][0]["content"] for v in msg.versions if v.get("config", {}).get("streaming_mode")]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))  # full text each time, growing
    report("feishu", len(card.text_updates), card.text_rate(), f"(max {card.max_in_a_second()} in any second)")


# --- DingTalk ------------------------------------------------------------------------------------------------


def dt_answer(gw: DingTalkEmulator) -> SentCard | None:
    for card in gw.sent_cards():
        if card.out_track_id in gw.aicard.streams:
            return card
    return None


async def test_a_sixty_second_llm_answer_streams_into_one_dingtalk_ai_card_that_is_finalised_with_its_buttons(
    store: Store,
    redis_url: str,
    sandbox: Any,
    dingtalk_gateway: DingTalkEmulator,
    serve_bot: Serve,
    tmp_path: Path,
    llm_server: ScriptedLLM,
) -> None:
    gw = dingtalk_gateway
    llm_server.script(tool_call("list_pods", {"namespace": "dev"}), slow_text(ANSWER, seconds=STREAM_SECONDS))
    base = real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw)
    settings = llm_settings(base, llm_server, dingtalk_ai_card_template_id=gw.aicard.template_id)
    await serve_bot(settings, llm_builder(store))
    await gw.wait_connected()

    await gw.say(QUESTION)
    card = await eventually(lambda: dt_answer(gw), "an AI card")
    stream = gw.aicard.streams[card.out_track_id]
    await eventually(
        lambda: stream if stream.ended else None,
        "the AI card finalised",
        within=WAIT,
        state=lambda: (len(stream.stream_updates), stream.status, gw.refused),
    )

    assert gw.refused == []
    gw.aicard.assert_all_finalized()
    assert stream.status == "3" and not stream.error  # FINISHED
    assert card.buttons()  # the final data carries the buttons
    assert "payment-api" in card.text and "step39" in card.text
    assert [c for c in gw.sent_cards() if "step0" in c.text or "…" in c.title] == [card]  # one card, no placeholder
    assert len(stream.stream_updates) > MANY
    assert stream.min_gap() >= 0.8
    report("dingtalk", len(stream.stream_updates), stream.text_rate(), f"(min gap {stream.min_gap():.2f}s)")


# --- a stream that breaks mid-answer -------------------------------------------------------------------------


async def test_an_llm_stream_that_breaks_mid_answer_ends_the_feishu_card_with_the_failure_and_the_fallback(
    store: Store,
    redis_url: str,
    sandbox: Any,
    feishu_gateway: FeishuEmulator,
    serve_bot: Serve,
    tmp_path: Path,
    llm_server: ScriptedLLM,
) -> None:
    gw = feishu_gateway
    llm_server.script(broken_stream(ANSWER, after=12, pace=0.2))
    settings = llm_settings(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw), llm_server)
    await serve_bot(settings, llm_builder(store))
    await gw.wait_connected()

    await gw.say("dev 里有哪些 pod")
    msg = await eventually(lambda: fs_answer(gw), "a card sent by card_id", within=60)
    card = gw.cardkit.for_message(msg.message_id)
    await eventually(lambda: card if not card.streaming else None, "the streamed card closed", within=60)
    await eventually(lambda: msg if "内置规则" in msg.text else None, "the fallback note on the card", within=60)

    assert gw.cardkit.refused == []
    gw.cardkit.assert_all_closed()
    assert "payment-api" in msg.text  # the rule parser's answer replaced the broken one
    assert "step11" not in msg.text  # no half answer is left behind


async def test_an_llm_stream_that_breaks_mid_answer_still_finalises_the_dingtalk_ai_card(
    store: Store,
    redis_url: str,
    sandbox: Any,
    dingtalk_gateway: DingTalkEmulator,
    serve_bot: Serve,
    tmp_path: Path,
    llm_server: ScriptedLLM,
) -> None:
    gw = dingtalk_gateway
    llm_server.script(broken_stream(ANSWER, after=12, pace=0.2))
    base = real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw)
    settings = llm_settings(base, llm_server, dingtalk_ai_card_template_id=gw.aicard.template_id)
    await serve_bot(settings, llm_builder(store))
    await gw.wait_connected()

    await gw.say("dev 里有哪些 pod")
    card = await eventually(lambda: dt_answer(gw), "an AI card", within=60)
    stream = gw.aicard.streams[card.out_track_id]
    await eventually(lambda: stream if stream.ended else None, "the AI card finalised", within=60)

    assert gw.refused == []
    gw.aicard.assert_all_finalized()
    assert "内置规则" in card.text and "payment-api" in card.text
    assert "step11" not in card.text
