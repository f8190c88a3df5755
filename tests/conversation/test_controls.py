"""The control grammar through the real engine (sandbox, Redis): typed replies to the bot's own cards, a new
request winning over a pending question, "did you mean", switching and refusals."""

from __future__ import annotations

from tests.conversation.conftest import Chat


async def test_a_typed_yes_runs_the_health_plan_and_a_typed_no_drops_it(chat: Chat) -> None:
    card = await chat.say("检查一下 dev 里 payment-api 的健康状况")
    assert "计划" in card.title
    card = await chat.say("好的")
    assert "诊断" in card.title and "payment-api" in card.title
    await chat.say("检查一下 dev 里 frontend 的健康状况")
    card = await chat.say("算了，不看了")
    assert card.title == "已取消"
    card = await chat.say("好的")  # nothing is pending any more
    assert card.title == "没有待确认的操作"


async def test_a_new_request_wins_over_the_pending_question(chat: Chat) -> None:
    card = await chat.say("看下 cart-service 的日志")
    assert card.title == "在哪个命名空间？"
    card = await chat.say("production 有哪些 pod")
    assert "Pod" in card.title and "production" in card.title


async def test_the_namespace_and_the_name_in_one_answer(chat: Chat) -> None:
    card = await chat.say("我想看一下日志")
    assert card.title == "在哪个命名空间？"
    card = await chat.say("dev 里的 payment-api")
    assert "日志" in card.title and "payment-api" in card.title


async def test_a_typo_is_asked_about_and_a_typed_yes_takes_the_suggestion(chat: Chat) -> None:
    card = await chat.say("看下 dev 的 cart-servce-v2 的日志")
    assert card.title == "你是不是想找 cart-service-v2？"
    assert "cart-servce-v2" in chat.text(card)  # what was not found is said, never silently replaced
    card = await chat.say("对")
    assert "日志" in card.title and "cart-service-v2" in card.title


async def test_an_unsupported_request_is_refused_with_why_and_what_instead(chat: Chat) -> None:
    card = await chat.say("进入 payment-api 容器执行 ls")
    text = chat.text(card)
    assert card.title == "这个我做不了" and "终端" in text and "日志" in text
    card = await chat.say("delete namespace dev")
    assert card.title == "I can't do that here" and "cannot be undone" in chat.text(card)


async def test_switching_namespace_in_words_pins_it_for_reads(chat: Chat) -> None:
    card = await chat.say("切换到 dev 命名空间")
    assert card.title == "当前命名空间：dev"
    card = await chat.say("看下事件")
    assert "dev" in card.title


async def test_a_follow_up_asks_the_last_question_about_another_namespace(chat: Chat) -> None:
    card = await chat.say("dev 有哪些 deployment")
    assert "dev" in card.title
    card = await chat.say("那 production 呢")
    assert "production" in card.title and "orders" in chat.text(card)


async def test_back_returns_to_the_question_before(chat: Chat) -> None:
    await chat.say("看下 cart-service 的日志")
    card = await chat.say("dev")
    assert card.title == "是哪个 Pod？"
    card = await chat.say("返回")
    assert card.title == "在哪个命名空间？"
