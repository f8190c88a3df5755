"""Result cards are bounded with a visible marker; unknown tools get a generic bounded view; progress cards."""

from __future__ import annotations

import asyncio

from bot.conversation.progress import ProgressResponder
from bot.core.i18n import Lang
from bot.render.logview import MAX_LOG_CHARS
from bot.render.model import Card, Code, Markdown, Table
from bot.render.text import render_card
from bot.render.views import MAX_ROWS, result_blocks
from tests.conversation.conftest import Recorder


def pod(i: int) -> dict[str, object]:
    return {"namespace": "dev", "name": f"pod-{i}", "phase": "Running", "status": "Running", "ready": "1/1"}


def test_a_long_pod_list_is_cut_with_a_visible_marker() -> None:
    data = {"namespace": "dev", "items": [pod(i) for i in range(150)], "total": 150}
    blocks = result_blocks("list_pods", data, "", Lang.EN)
    table = blocks[0]
    assert isinstance(table, Table) and len(table.rows) == MAX_ROWS
    assert table.truncated == f"showing {MAX_ROWS} of 150 (truncated)"
    assert "(truncated)" in render_card(Card("Pods", tuple(blocks)))


def test_long_logs_keep_the_newest_lines_and_say_so() -> None:
    lines = [f"line {i} " + "x" * 80 for i in range(500)]
    data = {"namespace": "dev", "pod": "p", "container": "c", "lines": lines}
    blocks = result_blocks("pod_logs", data, "", Lang.ZH)
    code = blocks[1]
    assert isinstance(code, Code)
    assert "line 499" in code.text and "line 0 " not in code.text
    assert code.truncated and "截断" in code.truncated
    assert len(code.text) <= MAX_LOG_CHARS  # without a platform; channels size the window on the wire


def test_an_unknown_tool_gets_a_generic_bounded_view() -> None:
    blocks = result_blocks("acme__weird_tool", {"blob": "y" * 50_000}, "", Lang.EN)
    code = blocks[0]
    assert isinstance(code, Code) and len(code.text) <= 2500 and code.truncated
    assert isinstance(result_blocks("acme__text_tool", None, "plain answer", Lang.EN)[0], Code)
    assert isinstance(result_blocks("acme__empty", None, "", Lang.EN)[0], Markdown)


def test_a_known_tool_name_with_foreign_data_falls_back_to_the_generic_view() -> None:
    blocks = result_blocks("list_pods", {"unexpected": True}, "", Lang.EN)
    assert isinstance(blocks[0], Code)


def test_buttons_are_numbered_in_the_console_text() -> None:
    from bot.core.actions import Action
    from bot.render.model import Button

    card = Card("t", buttons=(Button("查看日志", Action("x")), Button("描述 Pod", Action("y"))))
    assert "[1] 查看日志  [2] 描述 Pod" in render_card(card)


async def test_a_slow_turn_posts_a_working_card_then_replaces_it_with_the_result() -> None:
    out = Recorder()
    progress = ProgressResponder(out, Lang.EN, delay=0.01)
    progress.start()
    await asyncio.sleep(0.3)  # the "cluster" is slow
    await progress.send(Card("result"))
    await progress.stop()
    assert [c.title for c in out.cards] == ["Working on it…", "result"]
    assert out.updates and out.updates[0][1].title == "result"


async def test_a_fast_turn_posts_no_working_card() -> None:
    out = Recorder()
    progress = ProgressResponder(out, Lang.EN, delay=30)
    progress.start()
    await progress.send(Card("result"))
    await progress.stop()
    assert [c.title for c in out.cards] == ["result"] and not out.updates
