"""Bad input, bad buttons, stale caches, a cluster that is down, mutations that must be explicit, /reset, /refresh."""

from __future__ import annotations

import uuid

from bot.app import Bot
from bot.core.actions import Action, ActionCodec
from bot.core.events import state_key
from tests.conversation.conftest import Chat, make_chat
from tools.sandbox import SandboxHandle

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def writes(sandbox: SandboxHandle) -> list[tuple[str, str]]:
    return [r for r in sandbox.cluster.requests if r[0] in WRITES]


async def state_of(bot: Bot, chat: Chat) -> object:
    return await bot.store.get_json(bot.store.keys.state(state_key(chat.conversation, chat.sender)))


async def test_an_empty_message_gets_a_friendly_answer(chat: Chat) -> None:
    card = await chat.say("   ")
    assert "空消息" in card.title or "Empty" in card.title


async def test_a_10kb_message_is_refused_clearly_in_the_users_language(chat: Chat, sandbox: SandboxHandle) -> None:
    card = await chat.say("看" * 10_000)
    assert card.title == "消息太长"
    card = await chat.say("x " * 5_000)
    assert card.title == "Message too long"
    assert writes(sandbox) == []


async def test_an_unknown_command_gets_the_help(chat: Chat) -> None:
    card = await chat.say("/frobnicate now")
    assert "/frobnicate" in chat.text(card) and "/pods" in chat.text(card)


async def test_an_invalid_name_is_explained_and_asked_again(chat: Chat, sandbox: SandboxHandle) -> None:
    card = await chat.say("/pods Bad_NS!")
    text = chat.text(card)
    assert "not a valid namespace name" in text
    assert card.title == "Which namespace?" and "dev" in [b.label for b in card.buttons]
    assert writes(sandbox) == []


async def test_a_namespace_that_does_not_exist_is_said_and_the_real_ones_offered(chat: Chat) -> None:
    card = await chat.say("看下 nope-ns 里有哪些 pod")
    assert "`nope-ns` 不存在" in chat.text(card)
    assert "dev" in [b.label for b in card.buttons]
    card = await chat.say("dev")
    assert "Pod" in card.title and "dev" in card.title


async def test_a_typed_namespace_that_does_not_exist_is_refused_and_asked_again(chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    card = await chat.say("ghost")
    assert "ghost" in chat.text(card) and "不存在" in chat.text(card)
    assert card.title == "在哪个命名空间？"


async def test_the_cluster_being_down_is_a_clear_message_and_the_bot_keeps_serving(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    sandbox.cluster.set_down(True)
    card = await chat.say("/pods dev")
    assert card.tone.value == "danger"
    text = chat.text(card)
    assert "Traceback" not in text
    assert "not reachable" in text or "unavailable" in text.lower() or "503" in text
    sandbox.cluster.set_down(False)
    card = await chat.say("/pods dev")
    assert "payment-api" in chat.text(card)


async def test_a_forged_payload_is_refused_and_changes_nothing(bot: Bot, chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    before = await state_of(bot, chat)
    good = bot.codec.encode(chat.button("dev").action, chat.conversation.chat_key)
    body, mac = good.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    await chat.press("", payload=forged)
    assert chat.out.toasts[-1] == "按钮数据无效（签名不符），已忽略。"
    assert await state_of(bot, chat) == before


async def test_an_expired_payload_is_refused_and_changes_nothing(bot: Bot, chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    before = await state_of(bot, chat)
    old = ActionCodec(bot.settings.action_secret.get_secret_value(), 10, clock=lambda: 1_000.0)
    payload = old.encode(
        Action("pick", {"t": "pod_logs", "a": {}, "s": "namespace", "v": "dev"}), chat.conversation.chat_key
    )
    await chat.press("", payload=payload)
    assert "过期" in chat.out.toasts[-1]
    assert await state_of(bot, chat) == before


async def test_a_payload_from_another_chat_is_refused(bot: Bot, chat: Chat) -> None:
    other = make_chat(bot, "u1", "other-chat")
    await other.say("看下 cart-service 的日志")
    payload = bot.codec.encode(other.button("dev").action, other.conversation.chat_key)
    await chat.say("你好")
    before = await state_of(bot, chat)
    await chat.press("", payload=payload)
    assert "不属于这个会话" in chat.out.toasts[-1]
    assert await state_of(bot, chat) == before


async def test_reset_forgets_the_pending_question(bot: Bot, chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    state = await state_of(bot, chat)
    assert isinstance(state, dict) and state["flow"] is not None
    card = await chat.say("/reset")
    assert card.title == "已重置"
    state = await state_of(bot, chat)
    assert isinstance(state, dict) and state["flow"] is None
    card = await chat.say("dev")  # no longer an answer
    assert not any("cart-service-v" in b.label for b in card.buttons)


async def test_state_has_a_ttl(bot: Bot, chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    ttl = await bot.store.ttl(bot.store.keys.state(state_key(chat.conversation, chat.sender)))
    assert 0 < ttl <= bot.settings.state_ttl_seconds


async def test_choices_come_from_the_cache_and_refresh_clears_it(chat: Chat, sandbox: SandboxHandle) -> None:
    async def dialogue() -> int:
        await chat.say("/reset")  # a fresh conversation each time: the namespace just used would not be asked
        sandbox.cluster.reset_requests()
        await chat.say("看下 cart-service 的日志")
        await chat.say("列出来")
        await chat.say("dev")
        card = await chat.say("v2 那个")
        assert "v2.0.0-canary" in chat.text(card)
        return chat.bot.toolbox.k8s_calls

    start = chat.bot.toolbox.k8s_calls
    cold = await dialogue() - start
    start = chat.bot.toolbox.k8s_calls
    warm = await dialogue() - start
    assert warm == 1  # only the logs themselves
    assert all("cart-service-v2" in path for _method, path in sandbox.cluster.requests), sandbox.cluster.requests
    assert cold > warm
    card = await chat.say("[刷新缓存]")
    assert card.title == "缓存已刷新"
    start = chat.bot.toolbox.k8s_calls
    assert await dialogue() - start == cold


async def test_a_namespace_deleted_between_two_steps_is_dropped_and_fresh_choices_offered(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    await chat.say("看下 cart-service 的日志")
    card = await chat.say("列出来")
    assert "dev" in [b.label for b in card.buttons]  # cached list now holds dev
    assert sandbox.cluster.delete_namespace("dev")
    card = await chat.say("dev")
    text = chat.text(card)
    assert "`dev`" in text and "不存在" in text
    assert "dev" not in [b.label for b in card.buttons]
    assert "production" in [b.label for b in card.buttons]


async def test_a_pod_deleted_between_two_steps_is_reoffered_fresh(chat: Chat, sandbox: SandboxHandle) -> None:
    await chat.say("看下 dev 里 cart-service 的日志")
    card = chat.last_with_buttons()
    v2 = [b.label for b in card.buttons if "cart-service-v2" in b.label][0]
    pod = sandbox.cluster.get("Pod", "dev", v2)
    assert pod is not None
    sandbox.cluster.remove("pods", "dev", v2)
    card = await chat.say(v2)
    text = chat.text(card)
    assert v2 in text and "不存在" in text
    assert v2 not in [b.label for b in card.buttons]


async def test_a_restart_never_guesses_its_target(chat: Chat, sandbox: SandboxHandle) -> None:
    card = await chat.say("重启 cart-service")
    assert card.title == "在哪个命名空间？"
    card = await chat.say("dev")
    # "cart-service" is not a deployment name: the exact targets are offered, nothing is picked
    assert card.title == "是哪个 Deployment？"
    labels = [b.label for b in card.buttons]
    assert "cart-service-v1" in labels and "cart-service-v2" in labels
    card = await chat.say("v2 那个")  # a fragment is not enough for a change
    assert "准确的名字" in chat.text(card)
    card = await chat.press("cart-service-v2")
    assert "restart_deployment" in chat.text(card)  # handed to the gate (read-only here: refused)
    assert writes(sandbox) == []


async def test_a_scale_command_with_every_argument_goes_straight_to_the_gate(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    card = await chat.say("/scale cart-service-v1 3 -n dev")
    assert "scale_deployment" in chat.text(card)
    assert writes(sandbox) == []


async def test_its_events_refer_to_the_last_pod(chat: Chat) -> None:
    await chat.say("/describe -n dev")
    card = await chat.press("payment-api")
    pod = card.title.split("/")[-1]
    card = await chat.say("its events")
    assert pod in card.title


async def test_redelivered_events_are_handled_once(bot: Bot, chat: Chat) -> None:
    from bot.core.events import MessageEvent

    event = MessageEvent(uuid.uuid4().hex, chat.conversation, chat.sender, "/ns")
    await bot.dispatcher.submit(event, chat.out)
    await bot.dispatcher.submit(event, chat.out)  # the platform delivers it again (dropped off the loop's hot path)
    await bot.dispatcher.drain()
    answers = [c for c in chat.out.cards if c.title in ("Namespaces", "命名空间")]
    assert len(answers) == 1, [c.title for c in chat.out.cards]


async def test_a_conversation_busy_elsewhere_gets_a_kind_wait_message(bot: Bot, chat: Chat) -> None:
    bot.handler.lock_wait = 0.2
    key = bot.store.keys.conv_lock(state_key(chat.conversation, chat.sender))
    async with bot.store.lock(key):  # another replica holds this conversation
        card = await chat.say("/ns")
    assert card.title == "One moment"
    card = await chat.say("/ns")
    assert "default" in chat.text(card)
