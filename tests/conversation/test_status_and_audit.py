"""`/status` reports the tool sources next to the cluster, and `/audit` goes through the gate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Bot, build_bot
from bot.settings import load_settings
from bot.store import Store
from tests.conversation.conftest import make_chat
from tools.sandbox import SandboxHandle


@pytest.fixture
async def bot_with_a_dead_mcp_server(store: Store, sandbox: SandboxHandle, tmp_path: Path) -> AsyncIterator[Bot]:
    config = tmp_path / "mcp.yaml"
    config.write_text(
        "servers:\n  - name: broken\n    command: /nonexistent/mcp-server-binary\n    args: []\n",
        encoding="utf-8",
    )
    settings = load_settings(
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        kube_timeout_seconds=3.0,
        mcp_config=str(config),
        audit_log_path=str(tmp_path / "audit.jsonl"),
    )
    bot = build_bot(settings, store=store, progress_after=0)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.close()


async def test_status_shows_the_cluster_and_names_a_tool_server_that_is_down(bot_with_a_dead_mcp_server: Bot) -> None:
    chat = make_chat(bot_with_a_dead_mcp_server)
    await chat.say("/status")
    titles = [c.title for c in chat.out.cards]
    assert any("overview" in t.lower() for t in titles), titles
    sources = chat.out.cards[-1]
    assert sources.title == "Tool sources"
    lines = chat.text(sources).splitlines()
    broken = [line for line in lines if "broken" in line]
    assert broken and all("✅" not in line for line in broken)  # named, and not claimed to be up
    assert any("❌ broken: down" in line or "⏳ broken: connecting" in line for line in broken)
    assert any("✅" in line and "tools" in line for line in lines)  # our own tools are up


async def test_the_bot_keeps_answering_reads_while_an_external_server_is_down(bot_with_a_dead_mcp_server: Bot) -> None:
    chat = make_chat(bot_with_a_dead_mcp_server)
    card = await chat.say("/pods dev")
    assert "cart-service-v2" in chat.text(card)


async def test_audit_lists_what_this_chat_did_for_a_user_allowed_to_read_it(bot_with_a_dead_mcp_server: Bot) -> None:
    chat = make_chat(bot_with_a_dead_mcp_server)  # console users hold the demo operator role (policies/default.yaml)
    await chat.say("/pods dev")
    card = await chat.say("/audit 5")
    text = chat.text(card)
    assert card.title == "Audit log" and "list_pods" in text


async def test_audit_with_a_bad_count_explains_the_arguments(bot_with_a_dead_mcp_server: Bot) -> None:
    chat = make_chat(bot_with_a_dead_mcp_server)
    card = await chat.say("/audit 500")
    assert "/audit" in chat.text(card) and card.title != "Audit log"
