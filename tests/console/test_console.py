"""The console channel: piped demo as a real subprocess, and the channel in-process over the sandbox."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Bot, build_bot
from bot.approvals.port import ReadOnlyGate
from bot.channels.console import ConsoleChannel, run_console_channel
from bot.settings import load_settings
from bot.store import Store
from tools.sandbox import SandboxHandle

KUBEDUTY = str(Path(sys.executable).with_name("kubeduty"))


def demo(stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull, "NO_COLOR": "1"}
    return subprocess.run([KUBEDUTY, "demo"], input=stdin, capture_output=True, timeout=90, env=env, check=False)


def test_the_piped_demo_prints_the_overview_with_the_seeded_counts_and_exits_0(sandbox: SandboxHandle) -> None:
    pods = len(sandbox.cluster.list_objects("Pod"))
    nodes = len(sandbox.cluster.list_objects("Node"))
    namespaces = len(sandbox.cluster.list_objects("Namespace"))
    proc = demo("帮我查看一下k8s状态\n".encode())
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert "集群概览" in out or "总览" in out
    assert f"Pod        : {pods} (" in out
    assert f"{nodes}/{nodes} 就绪" in out
    assert f"命名空间   : {namespaces}" in out
    assert "Traceback" not in proc.stderr.decode()


def test_the_piped_zh_dialogue_prints_the_v2_pod_log_lines() -> None:
    script = "hi，帮我看一下 cart-service 的日志\n我不确定，你列出来吧\n应该在 dev\nv2 那个\n"
    proc = demo(script.encode())
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert "我在命名空间 `dev`" in out
    assert "cart-service v2.0.0-canary" in out  # the v2 pod's log lines
    assert out.rstrip().endswith("└─")  # every reply was printed before exit


def test_the_piped_demo_survives_bad_input_and_still_exits_0() -> None:
    lines = b"\n".join(
        [
            b"",
            b"\xff\xfe\xfa not utf-8",
            b"/frobnicate",
            "看".encode() * 5000,
            b"/pods Not_Valid",
            b"/pods no-such-namespace",
            b"7",
            b"/status",
        ]
    )
    proc = demo(lines + b"\n")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert "invalid UTF-8" in out or "无效的 UTF-8" in out
    assert "/frobnicate" in out
    assert "消息太长" in out
    assert "Not_Valid" in out
    assert "no-such-namespace" in out
    assert "Pod        :" in out  # the last line still got its answer
    assert "Traceback" not in out + proc.stderr.decode()


@pytest.fixture
async def console_bot(store: Store, sandbox: SandboxHandle) -> AsyncIterator[Bot]:
    settings = load_settings(kubeconfig=str(sandbox.kubeconfig_path), kube_context="sandbox")
    bot = build_bot(settings, store=store, gate=ReadOnlyGate(), progress_after=0)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.close()


async def test_a_number_or_a_label_presses_the_button(console_bot: Bot) -> None:
    out = io.StringIO()
    channel = ConsoleChannel(console_bot, out=out)
    await channel.handle_line("看下 cart-service 的日志\n".encode())
    assert "[1] dev" in out.getvalue()
    await channel.handle_line(b"1\n")  # presses [1] dev
    assert "cart-service-v2" in out.getvalue().split("[1] dev")[-1]
    await channel.handle_line(b"[\xe5\x8f\x96\xe6\xb6\x88]\n")  # "[取消]" by label
    assert "已取消" in out.getvalue()


async def test_a_number_without_such_a_button_is_a_local_notice(console_bot: Bot) -> None:
    out = io.StringIO()
    channel = ConsoleChannel(console_bot, out=out)
    await channel.handle_line(b"/ns\n")
    await channel.handle_line(b"42\n")
    assert "没有按钮 [42]" in out.getvalue() or "no button [42]" in out.getvalue()


async def test_piped_input_is_handled_line_by_line_and_returns_0(console_bot: Bot) -> None:
    out = io.StringIO()
    stdin = io.BytesIO(b"/ns\n2\n")
    assert await run_console_channel(console_bot, stdin, out) == 0
    text = out.getvalue()
    assert text.count("┌─") >= 3  # welcome, namespaces, then the pods of the pressed namespace


async def test_a_typed_request_means_the_pod_just_shown_not_an_older_cards_button(
    console_bot: Bot, sandbox: SandboxHandle
) -> None:
    cart = sorted(
        p["metadata"]["name"]
        for p in sandbox.cluster.list_objects("Pod", "dev")
        if "cart-service-v1" in p["metadata"]["name"]
    )[0]
    out = io.StringIO()
    channel = ConsoleChannel(console_bot, out=out)
    await channel.handle_line(f"/logs {cart} -n dev\n".encode())
    assert "[3] Previous logs" in out.getvalue()  # an older card will offer this exact label
    await channel.handle_line(b"describe payment-api in dev\n")
    mark = len(out.getvalue())
    await channel.handle_line(b"previous logs\n")
    answer = out.getvalue()[mark:]
    assert "payment-api" in answer and "(previous instance)" in answer
    assert cart not in answer


async def test_an_older_cards_button_is_still_pressable_by_its_label(console_bot: Bot) -> None:
    out = io.StringIO()
    channel = ConsoleChannel(console_bot, out=out)
    await channel.handle_line("看下 cart-service 的日志\n".encode())  # a question card: [1] dev ...
    await channel.handle_line(b"/ns\n")  # a newer card with other buttons
    mark = len(out.getvalue())
    await channel.handle_line(b"[dev]\n")  # not a request of its own: the older card's button
    answer = out.getvalue()[mark:]
    assert "cart-service-v1" in answer and "cart-service-v2" in answer


def demo_as(user: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull, "NO_COLOR": "1"}
    return subprocess.run(
        [KUBEDUTY, "demo", "--user", user], input=stdin, capture_output=True, timeout=120, env=env, check=False
    )


def test_two_people_in_one_demo_terminal_request_and_approve_a_production_change() -> None:
    # "hi" first: the session is English from then on (a slash command alone keeps the console's Chinese)
    script = "hi\n/scale checkout 3 -n production\n1\n/as bob\n1\n/deploys production\n"
    proc = demo_as("alice", script.encode())
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    asked, _, rest = out.partition("Now typing as bob.")
    assert "the requester alice cannot approve" in asked
    assert "you cannot approve your own request" in asked  # alice's own click was refused
    outcome = rest.split("┌─")[1]
    assert "alice" in outcome and "bob" in outcome  # one name per person, no raw `console:` ids
    assert "console:" not in outcome and "you" not in outcome.replace("your", "")
    assert "2 → 3" in outcome
    deployments = rest.split("┌─")[-1]  # read back from the sandbox after the approval
    row = next(line for line in deployments.splitlines() if "checkout" in line)
    assert row.split()[3].endswith("/3"), row  # ready/desired: the deployment now wants 3 replicas


def test_an_unusable_console_user_name_gets_a_friendly_usage_line_not_a_switch() -> None:
    proc = demo_as("alice", "/as two words\n/as\n/as 张三\n".encode())
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.count("/as NAME") == 2 or out.count("/as 名字") == 2
    assert "张三" in out and "Traceback" not in out + proc.stderr.decode()


def test_a_click_on_an_english_card_answers_in_english_after_the_session_turned_chinese() -> None:
    # alice asks in English; bob writes Chinese (the session turns Chinese), then presses her card's Approve
    script = "hi\n/scale checkout 3 -n production\n/as bob\n看下 dev 的 pod\nApprove\n"
    proc = demo_as("alice", script.encode())
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    outcome = out.split("Pod 列表")[-1].split("┌─")[-1]  # the approval's outcome, after bob's Chinese answer
    assert "Done: Scale deployment" in outcome and "2 → 3" in outcome, outcome
