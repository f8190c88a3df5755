"""Windows sized on the wire (`bot.render.paging`): the largest window that fits, measured as each platform
counts a card, never a fixed number of characters."""

from __future__ import annotations

from bot.core.actions import ActionCodec
from bot.core.i18n import Lang
from bot.render import paging
from bot.render.logview import log_page
from bot.render.model import Card
from tools.k8s.models import LogResult

CODEC = ActionCodec("paging-test", 600)


def budget(platform: str) -> paging.Budget:
    return paging.Budget(platform, lambda a: CODEC.encode(a, f"{platform}:chat"), Lang.EN, "chat")


def window(lines: list[str], platform: str) -> tuple[int, int]:
    r = LogResult(namespace="dev", pod="web-1", container="web", lines=lines)

    def build(a: int, b: int) -> Card:
        return Card(title="logs", blocks=tuple(log_page(r, Lang.EN, a, b)))

    return paging.window_back(len(lines), lambda a, b: paging.fits(build(a, b), budget(platform)))


def test_the_largest_window_that_fits_is_chosen_and_one_more_line_would_not_fit() -> None:
    lines = [f"2026-11-30T05:00:{i % 60:02d}Z INFO web GET /api/{i} 200 " + "x" * 60 for i in range(2000)]
    r = LogResult(namespace="dev", pod="web-1", container="web", lines=lines)
    for platform in (paging.FEISHU, paging.DINGTALK):
        a, b = window(lines, platform)
        assert b == 2000 and 0 < a < 2000
        bigger = Card(title="logs", blocks=tuple(log_page(r, Lang.EN, a - 1, b)))
        assert not paging.fits(bigger, budget(platform))


def test_quotes_cost_more_on_the_feishu_wire_so_fewer_such_lines_fit() -> None:
    plain = [f"line {i:04d} " + "a" * 80 for i in range(1000)]
    quoted = [f"line {i:04d} " + '"' * 80 for i in range(1000)]  # the same characters, escaped twice in the body
    a_plain, _ = window(plain, paging.FEISHU)
    a_quoted, _ = window(quoted, paging.FEISHU)
    assert 1000 - a_quoted < 1000 - a_plain


def test_the_console_shows_every_line() -> None:
    lines = [f"line {i}" for i in range(5000)]
    assert window(lines, paging.CONSOLE) == (0, 5000)


def test_a_short_log_fits_whole() -> None:
    lines = [f"line {i}" for i in range(100)]
    assert window(lines, paging.FEISHU) == (0, 100)
    assert window(lines, paging.DINGTALK) == (0, 100)
