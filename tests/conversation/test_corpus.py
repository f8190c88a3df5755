"""The dialogue corpus (tests/conversation/corpus/*.yaml), strict: each dialogue is one case, id
category/lang/name, and fails with the problems found and the transcript. The bench
(`python -m tests.bench.bench_corpus`) plays the same dialogues without failing and prints pass rates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.core.actions import Action
from bot.render.model import Button, Card, Code, Markdown
from bot.store import Store
from bot.tooling.types import ToolCall
from tests.conversation.corpus.checks import TurnResult, check_turn, kind_of
from tests.conversation.corpus.harness import Dialogue, load_corpus, run_dialogue
from tests.conversation.corpus.world import World

CORPUS = load_corpus()


@pytest.fixture(scope="module")
def shared_world() -> Iterator[list[World]]:
    """One pair of sandboxes for the dialogues that change nothing; replaced if one changed something anyway."""
    holder = [World()]
    yield holder
    holder[0].close()


def test_the_corpus_has_the_size_and_language_mix_the_issue_asks_for() -> None:
    n = len(CORPUS)
    by_lang = {lang: sum(d.lang == lang for d in CORPUS) / n for lang in ("zh", "en", "mixed")}
    assert n >= 150, n
    assert 0.6 <= by_lang["zh"] <= 0.8 and 0.15 <= by_lang["en"] <= 0.3 and 0.07 <= by_lang["mixed"] <= 0.2, by_lang
    assert sum(d.issue for d in CORPUS) >= 25  # every failure listed in issue 10 has a dialogue


@pytest.mark.timeout(300)
@pytest.mark.parametrize("dialogue", CORPUS, ids=[d.id for d in CORPUS])
async def test_the_dialogue_gets_answers_a_user_can_act_on(
    dialogue: Dialogue, shared_world: list[World], store: Store
) -> None:
    own = World() if dialogue.mutates else None
    world = own or shared_world[0]
    try:
        result = await run_dialogue(dialogue, world, store)
    finally:
        if own is not None:
            own.close()
        elif world.dirty:  # something changed the shared clusters: the next dialogues get clean ones
            world.close()
            shared_world[0] = World()
    assert result.passed, "\n".join(result.problems) + "\n\n" + result.transcript()


def test_the_checks_catch_a_wrong_answer_and_accept_the_right_one(shared_world: list[World]) -> None:
    world = shared_world[0]
    said = "看下 dev 的 payment-api 的日志"
    turn: dict[str, Any] = {
        "say": said,
        "expect_tool": "pod_logs",
        "args": {"namespace": "dev", "pod~": "payment-api"},
        "no_tool": ["list_pods"],
        "card_kind": "answer",
        "must_contain": ["v3.1.0"],
        "must_not_contain": ["Which pod"],
    }
    requests = {name: 0 for name in world.sandboxes}
    wrong = TurnResult(
        0,
        said,
        [Card(title="Which pod?", buttons=(Button("payment-api-1", Action("pick", {"s": "pod"})),))],
        [],
        [ToolCall("list_pods", {"namespace": "dev"})],
        [],
        0.0,
    )
    problems = check_turn(turn, wrong, world, {}, {}, [], {}, requests)
    assert len(problems) == 5, problems  # tool, list_pods called, kind, missing text, forbidden text
    right = TurnResult(
        0,
        said,
        [Card(title="Pod 日志 · dev/payment-api-1", blocks=(Code("payment-api v3.1.0 starting"),))],
        [],
        [ToolCall("pod_logs", {"namespace": "dev", "pod": "payment-api-1"})],
        [],
        0.0,
    )
    assert check_turn(turn, right, world, {}, {}, [], {}, requests) == []


def test_card_kinds_read_as_a_user_sees_them() -> None:
    assert kind_of(Card(title="确认改动", buttons=(Button("确认执行", Action("approval.confirm")),))) == "confirm"
    assert kind_of(Card(title="在哪个命名空间？", buttons=(Button("dev", Action("pick")),))) == "choice"
    plan = Card(
        title="健康检查计划：web", buttons=(Button("开始检查", Action("run")), Button("取消", Action("cancel")))
    )
    assert kind_of(plan) == "plan"
    assert kind_of(Card(title="这个我做不了", blocks=(Markdown("我不能删除命名空间。"),))) == "refusal"
    assert kind_of(Card(title="KubeDuty 帮助", blocks=(Markdown("没太明白"),))) == "notice"
    assert kind_of(Card(title="Pod 列表 · dev")) == "answer"
