"""The console: every requested log line, a live follow printing only new lines, Stop, and pod list pages."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.app import Bot, build_bot
from bot.approvals.port import ReadOnlyGate
from bot.channels.console import ConsoleChannel
from bot.settings import load_settings
from bot.store import Store
from tools.sandbox import SandboxHandle, start_sandbox_thread

LOG_LINE = re.compile(r"^│\s+\S+Z (?:INFO|WARN|ERROR|DEBUG) ", re.M)


async def _bot(store: Store, sandbox: SandboxHandle, **extra: object) -> Bot:
    settings = load_settings(kubeconfig=str(sandbox.kubeconfig_path), kube_context="sandbox", **extra)
    bot = build_bot(settings, store=store, gate=ReadOnlyGate(), progress_after=0)
    await bot.start()
    return bot


@pytest.fixture
def live() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(seed="demo", port=0, live=True, speed=4.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def console_bot(store: Store, sandbox: SandboxHandle) -> AsyncIterator[Bot]:
    bot = await _bot(store, sandbox)
    try:
        yield bot
    finally:
        await bot.close()


def pod_named(sandbox: SandboxHandle, ns: str, part: str) -> str:
    return next(str(p["metadata"]["name"]) for p in sandbox.cluster.list_objects("pod", ns) if part in str(p))


async def until(check: object, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_the_terminal_shows_every_requested_log_line_and_says_the_log_has_fewer(
    console_bot: Bot, sandbox: SandboxHandle
) -> None:
    out = io.StringIO()
    channel = ConsoleChannel(console_bot, out=out)
    pod = pod_named(sandbox, "dev", "cart-service-v1")
    await channel.handle_line(f"/logs dev/{pod} --tail 500\n".encode())
    text = out.getvalue()
    shown = len(LOG_LINE.findall(text))
    assert 100 < shown < 500
    assert f"the log has only {shown}" in text or f"日志只有 {shown} 行" in text
    assert "Older" not in text and "更早" not in text  # nothing to page: every line is on the screen


async def test_a_followed_log_prints_new_lines_until_stop_is_pressed(store: Store, live: SandboxHandle) -> None:
    bot = await _bot(store, live, follow_seconds=120)
    try:
        out = io.StringIO()
        channel = ConsoleChannel(bot, out=out)
        pod = pod_named(live, "dev", "cart-service-v1")
        await channel.handle_line(f"/logs dev/{pod} -f\n".encode())
        follows = bot.handler.follows
        assert follows is not None and follows.active == 1
        await until(lambda: len(re.findall(r"/api/cart/5\d{3}", out.getvalue())) >= 3, "streamed lines")
        await channel.handle_line(b"1\n")  # [1] Stop
        await until(lambda: follows.active == 0 and follows.streams() == 0, "the follow to stop")
        text = out.getvalue()
        assert "Stopped following (stopped by hand)" in text or "已停止跟踪（手动停止）" in text
        streamed = re.findall(r"/api/cart/(5\d{3})", text)
        assert len(streamed) == len(set(streamed))  # each new line printed once, not the whole window again
    finally:
        await bot.close()


async def test_a_long_pod_list_pages_forward_and_back_in_the_terminal(store: Store) -> None:
    with start_sandbox_thread(seed="scale", port=0, namespaces=1, pods=120) as big:
        bot = await _bot(store, big)
        try:
            out = io.StringIO()
            channel = ConsoleChannel(bot, out=out)
            await channel.handle_line(b"/pods scale-000\n")
            first = out.getvalue()
            assert "--failing" in first and re.search(r"(?:Pods 1-50 of 120|第 1-50 个，共 120 个)", first)
            await channel.handle_line("[Next ›]\n".encode() if "Next" in first else "[下一页 ›]\n".encode())
            second = out.getvalue()[len(first) :]
            assert re.search(r"(?:Pods 51-100 of 120|第 51-100 个，共 120 个)", second)
            mark = len(out.getvalue())
            await channel.handle_line("[‹ Previous]\n".encode() if "Previous" in second else "[‹ 上一页]\n".encode())
            assert re.search(r"(?:Pods 1-50 of 120|第 1-50 个，共 120 个)", out.getvalue()[mark:])
        finally:
            await bot.close()


async def test_asking_in_chinese_to_follow_a_log_opens_a_chinese_live_card(store: Store, live: SandboxHandle) -> None:
    bot = await _bot(store, live, follow_seconds=60)
    try:
        out = io.StringIO()
        channel = ConsoleChannel(bot, out=out)
        await channel.handle_line("跟踪一下 dev 里 cart-service-v2 的日志\n".encode())
        text = out.getvalue()
        assert "实时日志：dev/cart-service-v2" in text and "[1] 停止" in text
        follows = bot.handler.follows
        assert follows is not None and follows.active == 1
        await channel.handle_line(b"1\n")
        await until(lambda: follows.active == 0, "the follow to stop")
        assert "已停止跟踪（手动停止）" in out.getvalue()
    finally:
        await bot.close()


async def test_choices_page_back_with_previous_as_well_as_more(store: Store) -> None:
    with start_sandbox_thread(seed="scale", port=0, namespaces=1, pods=30) as big:
        bot = await _bot(store, big)
        try:
            out = io.StringIO()
            channel = ConsoleChannel(bot, out=out)
            await channel.handle_line(b"/logs -n scale-000\n")  # which pod? 30 choices, 8 a page
            first = out.getvalue()
            assert "Previous" not in first and "上一页" not in first
            more = re.search(r"\[(\d+)\] (?:More|更多)", first)
            assert more is not None
            await channel.handle_line(f"{more.group(1)}\n".encode())
            second = out.getvalue()[len(first) :]
            back = re.search(r"\[(\d+)\] (?:Previous \(1-8 of 30\)|上一页（1-8/30）)", second)
            assert back is not None, second
            mark = len(out.getvalue())
            await channel.handle_line(f"{back.group(1)}\n".encode())
            assert re.search(r"(?:showing 1-8|显示第 1-8 个)", out.getvalue()[mark:])
        finally:
            await bot.close()
