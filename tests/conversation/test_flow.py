"""Slot filling details: paging, answers that mention keywords, context commands, external-style params."""

from __future__ import annotations

from bot.app import Bot
from tests.conversation.conftest import Chat
from tools.sandbox import SandboxHandle


def add_namespaces(sandbox: SandboxHandle, n: int) -> list[str]:
    names = [f"team-{i:02d}" for i in range(n)]
    for name in names:
        sandbox.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return names


async def test_many_choices_are_paged_with_more_and_free_text(chat: Chat, sandbox: SandboxHandle) -> None:
    names = add_namespaces(sandbox, 14)
    await chat.say("看下 cart-service 的日志")
    card = await chat.say("列出来")
    picks = [b for b in card.buttons if b.action.op == "pick"]
    assert len(picks) == 8
    assert any(b.label.startswith("更多") for b in card.buttons)
    assert card.input_hint  # free text entry is offered
    card = await chat.press("更多")
    second = [b.label for b in card.buttons if b.action.op == "pick"]
    assert second and not set(second) & {b.label for b in picks}
    card = await chat.say(names[-1])  # typed, from a later page
    assert "Pod" in card.title or "不存在" in chat.text(card) or "没有" in chat.text(card)


async def test_an_answer_that_mentions_the_slot_word_is_still_an_answer(chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    card = await chat.say("在 dev 命名空间")
    assert card.title == "是哪个 Pod？"


async def test_a_new_request_in_the_middle_of_a_question_is_handled_as_new(chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    card = await chat.say("列出所有节点")
    assert "节点" in card.title


async def test_use_ns_pins_the_namespace_for_reads_but_not_for_changes(chat: Chat) -> None:
    card = await chat.say("/use ns dev")
    assert "dev" in card.title
    card = await chat.say("看下 cart-service 的日志")
    assert card.title == "是哪个 Pod？"  # namespace taken from the pinned context
    card = await chat.say("/restart cart-service-v1")
    assert card.title == "在哪个命名空间？"  # changes always name their namespace explicitly


async def test_use_cluster_refuses_an_unknown_context(chat: Chat) -> None:
    card = await chat.say("/use cluster nowhere")
    assert "nowhere" in chat.text(card)
    card = await chat.say("/use cluster sandbox")
    assert "sandbox" in card.title


async def test_quick_commands_are_pushed_on_first_contact_and_on_help(chat: Chat) -> None:
    await chat.say("/ns")
    first = chat.out.cards[0]
    assert [b.label for b in first.buttons] == ["List clusters", "Cluster overview", "Show namespaces", "Refresh cache"]
    card = await chat.say("/help")
    assert "Refresh cache" in [b.label for b in card.buttons]
    card = await chat.press("Cluster overview")
    assert "sandbox" in chat.text(card)


async def test_missing_slash_arguments_fall_into_slot_filling(chat: Chat, bot: Bot) -> None:
    card = await chat.say("/logs")
    assert card.title == "Which namespace?"
    card = await chat.press("dev")
    assert card.title == "Which pod?"
    card = await chat.say("/scale cart-service-v1 -n dev")
    assert "replicas" in chat.text(card)
    card = await chat.say("2")
    assert "scale_deployment" in chat.text(card)


async def test_cancel_drops_the_pending_question(chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    card = await chat.press("取消")
    assert card.title == "已取消"
    card = await chat.say("dev")
    assert not any("cart-service-v" in b.label for b in card.buttons)
