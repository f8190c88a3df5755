"""The reference dialogue (no LLM), zh and en, typed answers and button presses, against the sandbox."""

from __future__ import annotations

from bot.app import Bot
from tests.conversation.conftest import Chat, make_chat
from tools.sandbox import SandboxHandle


def pods_of(sandbox: SandboxHandle, namespace: str, prefix: str) -> list[str]:
    return sorted(
        p["metadata"]["name"]
        for p in sandbox.cluster.list_objects("Pod", namespace)
        if p["metadata"]["name"].startswith(prefix)
    )


async def test_the_zh_reference_dialogue_with_typed_answers_ends_in_the_v2_pod_logs(
    chat: Chat, sandbox: SandboxHandle
) -> None:
    v2 = pods_of(sandbox, "dev", "cart-service-v2")[0]
    v1 = pods_of(sandbox, "dev", "cart-service-v1")[0]

    card = await chat.say("hi，帮我看一下 cart-service 的日志")
    assert "命名空间" in card.title
    assert "`dev`" in chat.text(card)  # says where it found them
    assert card.buttons[0].label == "dev"
    assert any("列出所有命名空间" in b.label for b in card.buttons)

    card = await chat.say("我不确定，你列出来吧")
    labels = [b.label for b in card.buttons]
    assert {"dev", "default", "production"} <= set(labels)

    card = await chat.say("应该在 dev")
    labels = [b.label for b in card.buttons]
    assert v1 in labels and v2 in labels

    card = await chat.say("v2 那个")
    text = chat.text(card)
    assert v2 in card.title
    assert "cart-service v2.0.0-canary" in text  # the v2 pod's own log lines
    assert {"描述 Pod", "查看事件", "上一次的日志"} <= {b.label for b in card.buttons}

    card = await chat.say("它的事件")
    assert v2 in card.title


async def test_the_en_reference_dialogue_works_with_button_presses(chat: Chat, sandbox: SandboxHandle) -> None:
    v2 = pods_of(sandbox, "dev", "cart-service-v2")[0]
    card = await chat.say("show me the logs of cart-service")
    assert card.title == "Which namespace?"
    assert "I found" in chat.text(card)

    card = await chat.press("List all namespaces")
    assert "production" in [b.label for b in card.buttons]

    card = await chat.press("dev")
    assert v2 in [b.label for b in card.buttons]

    card = await chat.press(v2)
    assert v2 in card.title and "v2.0.0-canary" in chat.text(card)

    card = await chat.press("Describe pod")
    assert v2 in card.title and "registry.example.com/cart-service:v2.0.0-canary" in chat.text(card)


async def test_the_en_reference_dialogue_with_typed_answers(chat: Chat, sandbox: SandboxHandle) -> None:
    v2 = pods_of(sandbox, "dev", "cart-service-v2")[0]
    await chat.say("show me the logs of cart-service")
    card = await chat.say("I'm not sure, list them")
    assert "dev" in [b.label for b in card.buttons]
    card = await chat.say("it should be in dev")
    assert card.title == "Which pod?"
    card = await chat.say("the v2 one")
    assert v2 in card.title and "Previous logs" in [b.label for b in card.buttons]


async def test_an_ordinal_answer_picks_the_offered_option(chat: Chat, sandbox: SandboxHandle) -> None:
    v1, v2 = pods_of(sandbox, "dev", "cart-service-v1")[0], pods_of(sandbox, "dev", "cart-service-v2")[0]
    await chat.say("看下 dev 里 cart-service 的日志")
    card = chat.last_with_buttons()
    chosen = card.buttons[1].label
    assert chosen in (v1, v2)
    card = await chat.say("第二个")
    assert chosen in card.title


async def test_a_choice_button_pressed_by_another_user_continues_under_their_own_identity(
    bot: Bot, sandbox: SandboxHandle
) -> None:
    alice = make_chat(bot, "alice", "group-1", group=True)
    bob = make_chat(bot, "bob", "group-1", group=True)
    await alice.say("看下 cart-service 的日志")
    card = await alice.say("dev")
    payload = bot.codec.encode(alice.button("cart-service-v2").action, alice.conversation.chat_key)
    card = await bob.press("", payload=payload)
    assert "cart-service-v2" in card.title
    # alice's own flow is untouched: she is still being asked which pod
    card = await alice.say("v1 那个")
    assert "cart-service-v1" in card.title


async def test_two_users_in_one_group_never_share_a_flow(bot: Bot) -> None:
    alice = make_chat(bot, "alice", "group-2", group=True)
    bob = make_chat(bot, "bob", "group-2", group=True)
    await alice.say("看下 cart-service 的日志")
    card = await bob.say("dev")  # bob has no question pending: "dev" is not an answer to alice's question
    assert "命名空间" not in card.title or "Pod" not in card.title
    assert not any("cart-service-v" in b.label for b in card.buttons)
    card = await alice.say("dev")
    assert any("cart-service-v2" in b.label for b in card.buttons)


async def test_the_cluster_overview_shows_the_seeded_counts(chat: Chat, sandbox: SandboxHandle) -> None:
    card = await chat.say("帮我查看一下k8s状态")
    text = chat.text(card)
    pods = len(sandbox.cluster.list_objects("Pod"))
    nodes = len(sandbox.cluster.list_objects("Node"))
    assert f"{pods} (" in text
    assert f"{nodes}/{nodes} 就绪" in text or f"/{nodes} 就绪" in text


async def test_a_crashing_pod_gets_previous_logs_and_events_first_with_a_tip(chat: Chat) -> None:
    card = await chat.say("/pods dev")
    labels = [b.label for b in card.buttons]
    assert labels[0].startswith("Previous logs payment-api"), labels
    assert labels[1].startswith("Events payment-api"), labels
    assert "Best practice" in chat.text(card)
    card = await chat.press("Previous logs payment-api")
    assert "previous instance" in chat.text(card)


async def test_slash_commands_keep_the_users_language(chat: Chat) -> None:
    await chat.say("你好")
    card = await chat.say("/pods dev")
    assert "最佳实践" in chat.text(card)


async def test_the_health_check_shows_a_plan_then_runs_it(chat: Chat) -> None:
    card = await chat.say("检查一下 payment-api 的健康状况")
    assert "命名空间" in card.title
    card = await chat.press("dev")
    assert "计划" in card.title and "开始检查" in [b.label for b in card.buttons]
    card = await chat.press("开始检查")
    text = chat.text(card)
    assert "payment-api" in card.title
    assert "CrashLoopBackOff" in text


async def test_english_health_check(chat: Chat) -> None:
    card = await chat.say("check the health of payment-api")
    card = await chat.press("dev")
    assert "Run the checks" in [b.label for b in card.buttons]
    card = await chat.press("Run the checks")
    assert "CrashLoopBackOff" in chat.text(card)


async def test_logs_of_a_crashing_pod_offer_previous_logs_and_events_first(chat: Chat) -> None:
    card = await chat.say("看下 payment-api 的日志")
    card = await chat.press("dev")  # one pod matches in dev: a read may take it
    labels = [b.label for b in card.buttons]
    assert labels[:2] == ["上一次的日志", "查看事件"], labels
    assert "最佳实践" in chat.text(card)


async def test_a_crashing_pod_chosen_by_button_keeps_the_crash_next_steps(chat: Chat) -> None:
    await chat.say("/logs -n dev")
    card = await chat.press("payment-api")
    assert [b.label for b in card.buttons][:2] == ["Previous logs", "Events"]


async def test_the_reference_dialogue_run_again_reads_only_the_logs_from_the_cluster(
    bot: Bot, sandbox: SandboxHandle
) -> None:
    script = ["hi，帮我看一下 cart-service 的日志", "我不确定，你列出来吧", "应该在 dev", "v2 那个"]
    first = make_chat(bot, user="warm-up")
    for line in script:
        await first.say(line)
    sandbox.cluster.reset_requests()
    again = make_chat(bot, user="second")
    for line in script:
        card = await again.say(line)
    assert "cart-service v2.0.0-canary" in again.text(card)
    paths = [path for _method, path in sandbox.cluster.requests]
    assert len(paths) == 1 and paths[0].endswith("/log")  # every choice came from the cache
