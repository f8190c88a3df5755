"""After a change runs, the result card offers what to look at next, and those buttons work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Bot, build_bot
from bot.render.model import Table
from bot.settings import load_settings
from bot.store import Store
from tests.conversation.conftest import make_chat
from tools.sandbox import SandboxHandle


@pytest.fixture
async def policy_bot(store: Store, sandbox: SandboxHandle, tmp_path: Path) -> AsyncIterator[Bot]:
    settings = load_settings(
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        kube_timeout_seconds=3.0,
        audit_log_path=str(tmp_path / "audit.jsonl"),
    )
    bot = build_bot(settings, store=store, progress_after=0)  # the shipped policy: console users may operate dev
    await bot.start()
    try:
        yield bot
    finally:
        await bot.close()


async def test_a_confirmed_scale_offers_the_workloads_pods_and_they_show_the_new_count(
    policy_bot: Bot, sandbox: SandboxHandle
) -> None:
    chat = make_chat(policy_bot)
    card = await chat.say("/scale cart-service-v1 3 -n dev")
    assert "Confirm" in " ".join(b.label for b in card.buttons)
    done = await chat.press("Confirm")
    assert done.title.startswith("Done") and sandbox.cluster.get("deployment", "dev", "cart-service-v1")
    labels = [b.label for b in done.buttons]
    assert "Pods of cart-service-v1" in labels and "Health check" in labels
    pods = await chat.press("Pods of cart-service-v1")
    (table,) = [b for b in pods.blocks if isinstance(b, Table)]
    assert len(table.rows) == 3 and all(row[0].startswith("cart-service-v1-") for row in table.rows)


async def test_a_confirmed_cordon_offers_the_way_back_which_is_confirmed_again(
    policy_bot: Bot, sandbox: SandboxHandle
) -> None:
    chat = make_chat(policy_bot)
    await chat.say("/cordon node-1")
    done = await chat.press("Confirm")
    assert done.title.startswith("Done")
    node = sandbox.cluster.get("node", None, "node-1")  # type: ignore[arg-type]
    assert node is not None and node["spec"].get("unschedulable") is True
    back = await chat.press("Uncordon node-1")
    assert "Confirm" in " ".join(b.label for b in back.buttons)  # a change again: it needs its own confirmation
    node = sandbox.cluster.get("node", None, "node-1")  # type: ignore[arg-type]
    assert node is not None and node["spec"].get("unschedulable") is True


async def test_a_chinese_preview_never_shows_the_english_tool_summary(policy_bot: Bot) -> None:
    chat = make_chat(policy_bot)
    await chat.say("帮我看下 dev 的 pod")  # sets the conversation language
    card = await chat.say("/scale cart-service-v1 2 -n dev")
    text = chat.text(card)
    assert "would scale" not in text and "预演" in text
