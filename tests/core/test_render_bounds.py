from __future__ import annotations

from bot.core.i18n import Lang, detect_lang, tr
from bot.render.model import TRUNCATED_EN, bound_tail, bound_text


def test_short_text_is_left_alone() -> None:
    assert bound_text("hello", 10) == ("hello", False)


def test_long_text_is_cut_to_the_limit_with_a_visible_marker() -> None:
    text, cut = bound_text("x" * 500, 100)
    assert cut and len(text) <= 100 and text.endswith(TRUNCATED_EN)


def test_long_logs_keep_the_newest_whole_lines() -> None:
    logs = "\n".join(f"line {i}" for i in range(1000))
    text, cut = bound_tail(logs, 200)
    assert cut and len(text) <= 200
    assert text.startswith(TRUNCATED_EN) and text.endswith("line 999")
    assert all(line.startswith("line ") for line in text.splitlines()[1:])


def test_language_follows_the_user() -> None:
    assert detect_lang("帮我看一下 cart-service 的日志") is Lang.ZH
    assert detect_lang("show me the logs") is Lang.EN
    assert detect_lang("/pods dev") is Lang.EN
    assert detect_lang("123", default=Lang.ZH) is Lang.ZH
    assert tr(Lang.EN, "你好 {n}", "hello {n}", n=1) == "hello 1"
