"""Logs and lists sized to the platform, and the live log follow, through the real SDKs against the emulators:
the real bot, real Redis, the sandbox cluster over HTTP (live time where a log must grow)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Bot, build_bot
from bot.settings import Settings
from bot.store import Store
from tests.channels.chats import Chat, DingTalkChat, FeishuChat, View
from tests.channels.conftest import Serve
from tests.channels.test_scenarios_real_bot import eventually, real_bot_settings
from tools.sandbox import SandboxHandle, start_sandbox_thread

LOG_LINE = re.compile(r"^\S+Z (?:INFO|WARN|ERROR|DEBUG) .*$", re.M)

Open = Callable[..., Awaitable[tuple[Chat, Bot]]]


@pytest.fixture
def live_sandbox() -> Iterator[SandboxHandle]:
    # time moves (4x): a followed container prints a line every 0.5 s
    handle = start_sandbox_thread(seed="demo", port=0, live=True, speed=4.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(seed="scale", port=0, namespaces=1, pods=1800)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(params=["dingtalk", "feishu"])
def platform(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def open_chat(
    request: pytest.FixtureRequest, platform: str, store: Store, redis_url: str, serve_bot: Serve, tmp_path: Path
) -> AsyncIterator[Open]:
    async def start(sandbox: SandboxHandle, **extra: Any) -> tuple[Chat, Bot]:
        bots: list[Bot] = []

        def build(settings: Settings) -> Bot:
            bot = build_bot(settings, store=store)
            bots.append(bot)
            return bot

        if platform == "dingtalk":
            gw: Any = request.getfixturevalue("dingtalk_gateway")
            settings = real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw)
            driver: Chat = DingTalkChat(gw)
        else:
            gw = request.getfixturevalue("feishu_gateway")
            settings = real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw)
            driver = FeishuChat(gw)
        await serve_bot(settings.model_copy(update=extra), build)
        await driver.wait_connected()
        return driver, bots[0]

    yield start


def log_lines(view: View) -> list[str]:
    return LOG_LINE.findall(view.text)


def pod_named(sandbox: SandboxHandle, ns: str, part: str) -> str:
    return next(str(p["metadata"]["name"]) for p in sandbox.cluster.list_objects("pod", ns) if part in str(p))


def with_label(chat: Chat, *labels: str, has: str = "") -> View | None:
    for view in reversed(chat.views()):
        if has in view.text and any(any(lb in label for label in view.labels) for lb in labels):
            return view
    return None


def label_of(view: View, *options: str) -> str:
    return next(o for o in options if any(o in label for label in view.labels))


def brief(chat: Chat) -> list[str]:
    return [f"{v.ref[:8]} v{v.versions}: {v.text[:160]}" for v in chat.views()[-3:]]


def current(chat: Chat, ref: str) -> View | None:
    return next((v for v in chat.views() if v.ref == ref), None)


async def press(chat: Chat, view: View, *labels: str) -> View:
    """Click, then the card that answers: the same card replaced in place, or a new card where the platform
    refused the edit (Feishu's edit cap)."""
    before = current(chat, view.ref)
    versions, count = (before.versions if before else 0), len(chat.views())
    await chat.click(view, label_of(view, *labels))

    def answered() -> View | None:
        same = current(chat, view.ref)
        if same is not None and same.versions > versions:
            return same
        return chat.views()[-1] if len(chat.views()) > count else None

    return await eventually(answered, f"the answer to {labels[0]}", state=lambda: brief(chat))


# --- logs sized to the card, paged ------------------------------------------------------------------------------


async def test_the_last_100_lines_are_all_shown_when_they_fit_on_the_card(
    open_chat: Open, sandbox: SandboxHandle
) -> None:
    chat, _ = await open_chat(sandbox)
    pod = pod_named(sandbox, "dev", "cart-service-v1")
    await chat.say(f"/logs dev/{pod}")
    card = await eventually(
        lambda: with_label(chat, "Follow", "跟踪", has=pod), "the logs card", state=lambda: brief(chat)
    )
    assert len(log_lines(card)) == 100
    assert not any(lb in label for label in card.labels for lb in ("Older", "更早"))


async def test_tail_500_shows_what_fits_says_how_many_and_pages_older_and_newer_through_every_line(
    open_chat: Open, sandbox: SandboxHandle
) -> None:
    chat, _ = await open_chat(sandbox)
    pod = pod_named(sandbox, "dev", "cart-service-v1")
    await chat.say(f"/logs dev/{pod} --tail 500")
    first = await eventually(
        lambda: with_label(chat, "Older", "更早", has=pod), "a paged logs card", state=lambda: brief(chat)
    )
    fetched = int(re.search(r"(?:of|共取回) (\d+)", first.text).group(1))  # type: ignore[union-attr]
    assert 100 < fetched <= 500
    assert re.search(rf"(?:only {fetched}|只有 {fetched} 行)", first.text)  # asked 500, the log has fewer: said
    newest = log_lines(first)
    assert 0 < len(newest) < fetched
    seen = list(newest)
    view, pages = first, 1
    while any(o in label for label in view.labels for o in ("Older", "更早")):
        view = await press(chat, view, "Older", "更早")
        older = log_lines(view)
        assert older and older[-1] != seen[0]
        seen = older + seen
        pages += 1
        assert pages <= 40
    assert len(seen) == fetched and len(set(seen)) == fetched  # every line once, oldest first, none skipped
    back = await press(chat, view, "Newer", "更新")
    assert log_lines(back)[0] != seen[0]
    print(f"\n{chat.platform}: --tail 500 -> {fetched} lines, {len(newest)} on the first card, {pages} pages")


# --- lists paged to their end -------------------------------------------------------------------------------------


async def test_a_1800_pod_list_pages_to_its_end_with_a_filter_hint(open_chat: Open, big_sandbox: SandboxHandle) -> None:
    chat, _ = await open_chat(big_sandbox, rate_user_per_minute=6000, rate_chat_per_minute=6000)  # 36 quick clicks
    await chat.say("/pods scale-000")
    view = await eventually(
        lambda: with_label(chat, "Next", "下一页", has="app-"), "the first page", state=lambda: brief(chat)
    )
    assert "--failing" in view.text  # how to narrow the list instead of paging
    names: list[str] = []
    pages = 0
    started = time.monotonic()
    while True:
        rows = "\n".join(line for line in view.text.splitlines() if line not in view.labels)  # not the buttons
        names.extend(re.findall(r"app-\d{4}-[a-z0-9]+-[a-z0-9]+", rows))
        pages += 1
        assert pages <= 100
        if not any(o in label for label in view.labels for o in ("Next", "下一页")):
            break
        view = await press(chat, view, "Next", "下一页")
    assert re.search(r"(?:of|共) 1800", view.text)
    assert len(names) == 1800 and len(set(names)) == 1800  # every pod once, to the end
    assert any(o in label for label in view.labels for o in ("Previous", "上一页"))
    print(f"\n{chat.platform}: 1800 pods in {pages} pages, {time.monotonic() - started:.1f} s of clicks")


# --- live follow --------------------------------------------------------------------------------------------------


async def test_a_followed_log_updates_one_card_for_30_seconds_and_stops_by_itself(
    open_chat: Open, live_sandbox: SandboxHandle
) -> None:
    chat, bot = await open_chat(live_sandbox, follow_seconds=30)
    pod = pod_named(live_sandbox, "dev", "cart-service-v1")
    await chat.say(f"/logs dev/{pod} -f")
    live = await eventually(
        lambda: with_label(chat, "Stop", "停止", has=pod), "the live card", state=lambda: brief(chat)
    )
    started = time.monotonic()
    done = await eventually(
        lambda: next((v for v in chat.views() if re.search(r"time is up|到达时限", v.text)), None),
        "the follow stopping by itself",
        within=120,
        state=lambda: brief(chat),
    )
    elapsed = time.monotonic() - started
    assert elapsed >= 25
    streamed = [ln for ln in log_lines(done) if re.search(r"/api/cart/5\d{3}", ln)]  # lines the stream added
    assert len(streamed) >= 10
    follows = bot.handler.follows
    assert follows is not None
    # the card says "time is up" just before the follow lets go of its stream
    await eventually(lambda: (follows.active == 0 and follows.streams() == 0) or None, "the stream closed")
    cards = [v for v in chat.views() if pod in v.text and re.search(r"Live log|实时日志", v.text)]
    updates = sum(v.versions for v in cards)
    times = follows.update_times
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    if chat.platform == "dingtalk":
        assert len(cards) == 1 and min(gaps) >= 0.8  # one card; DingTalk's 800 ms between updates of a card
    else:
        assert len(cards) == 1 and cards[0].versions <= 20  # one message within Feishu's ~20 edits
    print(
        f"\n{chat.platform}: followed {elapsed:.0f} s, {len(streamed)} streamed lines on the card, {updates} card "
        f"versions, {len(times)} updates, {len(times) / elapsed:.2f} updates/s, min gap {min(gaps):.2f} s"
    )
    assert live.ref == cards[0].ref


async def test_stop_ends_a_follow_and_closes_its_stream(open_chat: Open, live_sandbox: SandboxHandle) -> None:
    chat, bot = await open_chat(live_sandbox, follow_seconds=300)
    pod = pod_named(live_sandbox, "dev", "cart-service-v1")
    await chat.say(f"/logs dev/{pod} -f")
    live = await eventually(
        lambda: with_label(chat, "Stop", "停止", has=pod), "the live card", state=lambda: brief(chat)
    )
    follows = bot.handler.follows
    assert follows is not None
    await eventually(lambda: follows.streams() == 1 or None, "the stream open")
    await chat.click(live, label_of(live, "Stop", "停止"))
    stopped = await eventually(
        lambda: next((v for v in chat.views() if re.search(r"stopped by hand|手动停止", v.text)), None),
        "the stopped card",
        within=60,
        state=lambda: brief(chat),
    )
    assert stopped.ref == live.ref
    assert any(o in label for label in stopped.labels for o in ("Follow again", "再次跟踪"))
    await eventually(lambda: (follows.active == 0 and follows.streams() == 0) or None, "the stream closed")


async def test_two_followers_of_one_pod_share_one_stream(open_chat: Open, live_sandbox: SandboxHandle) -> None:
    chat, bot = await open_chat(live_sandbox, follow_seconds=300)
    pod = pod_named(live_sandbox, "dev", "cart-service-v1")
    await chat.say(f"/logs dev/{pod} -f", user="alice")
    first = await eventually(
        lambda: with_label(chat, "Stop", "停止", has=pod), "alice's live card", state=lambda: brief(chat)
    )
    await chat.say(f"/logs dev/{pod} --follow", user="bob")
    second = await eventually(
        lambda: next(
            (v for v in chat.views() if v.ref != first.ref and any("Stop" in lb or "停止" in lb for lb in v.labels)),
            None,
        ),
        "bob's live card",
        state=lambda: brief(chat),
    )
    follows = bot.handler.follows
    assert follows is not None
    assert follows.active == 2 and follows.opened == 1 and follows.streams() == 1
    for view in (first, second):  # both cards get the stream's new lines
        await eventually(
            lambda ref=view.ref: (  # type: ignore[misc]
                c if (c := current(chat, ref)) and re.search(r"/api/cart/5\d{3}", c.text) else None
            ),
            "streamed lines on both cards",
            within=60,
        )
    await chat.click(first, label_of(first, "Stop", "停止"), user="alice")
    await eventually(lambda: follows.active == 1 or None, "one follower left")
    assert follows.streams() == 1  # bob still follows: the stream stays
    await chat.click(second, label_of(second, "Stop", "停止"), user="bob")
    await eventually(lambda: (follows.active == 0 and follows.streams() == 0) or None, "every stream closed")


async def test_the_follow_button_of_a_logs_card_starts_one_live_card_however_often_it_is_pressed(
    open_chat: Open, live_sandbox: SandboxHandle
) -> None:
    chat, bot = await open_chat(live_sandbox, follow_seconds=300)
    pod = pod_named(live_sandbox, "dev", "cart-service-v1")
    await chat.say(f"/logs dev/{pod}")
    logs = await eventually(
        lambda: with_label(chat, "Follow", "跟踪", has=pod), "the logs card", state=lambda: brief(chat)
    )
    await chat.click(logs, label_of(logs, "Follow", "跟踪"))
    live = await eventually(
        lambda: with_label(chat, "Stop", "停止", has=pod), "the live card", state=lambda: brief(chat)
    )
    await chat.click(logs, label_of(logs, "Follow", "跟踪"))  # pressed again: that card is followed already
    await chat.quiet(1.0)
    follows = bot.handler.follows
    assert follows is not None and follows.active == 1
    assert len([v for v in chat.views() if any("Stop" in lb or "停止" in lb for lb in v.labels)]) == 1
    await chat.click(live, label_of(live, "Stop", "停止"))
    await eventually(lambda: (follows.active == 0 and follows.streams() == 0) or None, "the stream closed")


async def test_events_show_warnings_first_with_their_whole_messages(open_chat: Open, sandbox: SandboxHandle) -> None:
    chat, _ = await open_chat(sandbox)
    messages = {str(e.get("message") or "") for e in sandbox.cluster.list_objects("event", "dev")}
    long = sorted(m for m in messages if 60 < len(m) <= 190)  # within the renderer's own cell limit (200)
    assert long  # messages the old view cut at ~48 characters
    await chat.say("/events dev")
    card = await eventually(lambda: next((v for v in chat.views() if "Warning" in v.text), None), "the events card")
    text = card.text.replace("\\", "")  # markdown escapes aside
    shown = [m for m in long if m in text]
    assert len(shown) >= min(3, len(long)), (long, text[:2000])
    rows = [line for line in text.splitlines() if "Warning" in line or "Normal" in line]
    kinds = ["W" if "Warning" in r.split("/")[0] else "N" for r in rows]
    assert "W" in kinds and "".join(kinds) == "".join(sorted(kinds, reverse=True))  # warnings first
