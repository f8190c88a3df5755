"""Feishu used like a real group when things go wrong (the real bot, real Redis, the sandbox, the real lark-oapi
SDK against the emulator): a card Feishu refuses for its size anyway arrives shorter with its "truncated" marker,
and a click on an old choice card gets a short notice in the card's own language; nothing is lost or run twice."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.channels.conftest import Serve
from tests.channels.emulators import feishu as feishu_emulator
from tests.channels.emulators.feishu import FeishuEmulator
from tests.channels.test_dingtalk_native import approval_settings
from tests.channels.test_scenarios_real_bot import builder, eventually
from tools.sandbox import SandboxHandle, start_sandbox_thread

LIMIT = 6_000  # a lowered limit a page of 50 pods (about 8.7 KB as sent) is over


@pytest.fixture(scope="module")
def many_pods() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(seed="scale", port=0, namespaces=1, pods=300)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.mark.parametrize(
    ("said", "marker"),
    [("show me the pods in scale-000", "truncated"), ("看下 scale-000 的 pod", "已截断")],
)
async def test_a_card_refused_for_size_arrives_again_shorter_with_its_truncated_marker_in_the_users_language(
    store: Store,
    redis_url: str,
    many_pods: SandboxHandle,
    feishu_gateway: FeishuEmulator,
    serve_bot: Serve,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    said: str,
    marker: str,
) -> None:
    gw = feishu_gateway
    monkeypatch.setattr(feishu_emulator, "MAX_CARD_BODY_BYTES", LIMIT)
    await serve_bot(approval_settings(many_pods, redis_url, tmp_path / "a.jsonl", feishu=gw), builder(store))
    await gw.wait_connected()
    await gw.say(said, user="ou_alice")
    pods = await eventually(
        lambda: next((m for m in gw.sent() if "scale-000" in m.title and marker in m.text), None),
        "the page of pods, shorter",
        state=lambda: ([(m.title, m.text[-300:]) for m in gw.sent()], gw.body_sizes),
    )
    assert any(size > LIMIT for size in gw.body_sizes), gw.body_sizes  # the full card really was refused
    assert pods.text.count(" Running ") >= 3  # still the listing (fewer rows, marked), not an error card
    assert not any("went wrong" in m.text or "出错" in m.text for m in gw.sent())


@pytest.mark.parametrize(
    ("said", "notice"),
    [("show me the logs of cart-service", "already made"), ("帮我看一下 cart-service 的日志", "已经选过")],
)
async def test_an_old_choice_card_clicked_on_feishu_gets_a_toast_in_the_cards_language_and_runs_nothing_again(
    store: Store,
    redis_url: str,
    sandbox: Any,
    feishu_gateway: FeishuEmulator,
    serve_bot: Serve,
    tmp_path: Path,
    said: str,
    notice: str,
) -> None:
    gw = feishu_gateway
    await serve_bot(approval_settings(sandbox, redis_url, tmp_path / "a.jsonl", feishu=gw), builder(store))
    await gw.wait_connected()
    await gw.say(said, user="ou_alice")
    question = await eventually(
        lambda: next((m for m in gw.sent() if any(b["text"]["content"] == "dev" for b in m.buttons())), None),
        "the namespace question",
        state=lambda: [(m.title, m.text[:80]) for m in gw.sent()],
    )
    stale = copy.deepcopy(question)  # the card as a slow client still shows it
    await gw.click(question, "dev", user="ou_alice")
    await eventually(
        lambda: next(
            (m for m in gw.sent() if any("cart-service-v2" in b["text"]["content"] for b in m.buttons())), None
        ),
        "the pods of dev",
        state=lambda: [(m.title, m.text[:80]) for m in gw.sent()],
    )
    cards = len([m for m in gw.sent() if m.msg_type == "interactive"])
    await gw.push(gw.click_event(stale, "dev", user="ou_bob"))  # someone else, on the stale card
    await eventually(
        lambda: next((m for m in gw.sent() if m.msg_type == "text" and notice in m.text), None),
        "the notice in the card's own language",
        state=lambda: [(m.msg_type, m.text[:80]) for m in gw.sent()],
    )
    assert len([m for m in gw.sent() if m.msg_type == "interactive"]) == cards  # nothing asked or answered again
