"""Every card type, rendered with every hostile string on every platform, has no live markup we did not write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.approvals.cards import dry_run_error_card, refusal_card
from bot.conversation.texts import help_card, notice_card
from bot.core.actions import Action, ActionCodec
from bot.core.i18n import Lang
from bot.policy.model import CallFacts, Decision, Effect, Why
from bot.render import views
from bot.render.dingtalk import render_dingtalk
from bot.render.escape import FEISHU, code_block, dingtalk_text, feishu_text, light
from bot.render.feishu import render_feishu
from bot.render.model import Button, Card, Code, Fields, Markdown, Note, Table, Tone
from bot.render.text import render_card
from tests.security.hostile import (
    ENTITIES,
    EVENT,
    HOSTILE,
    IMAGE,
    dingtalk_markdown,
    feishu_markdown,
    feishu_plain_fields_are_plain,
    hostile_instance,
    live_markup,
    live_terminal,
    split_code,
)

CHAT = "feishu:oc_sec"
codec = ActionCodec("markup-test-secret", ttl_seconds=600)


def _sign(action: Action) -> str:
    return codec.encode(action, CHAT)


def cards_for(payload: str, lang: Lang) -> Iterator[tuple[str, Card]]:
    """Every card type the bot renders from data, with `payload` wherever outside text can be."""
    for tool, (model, _view) in views._VIEWS.items():
        data = hostile_instance(model, payload)
        yield tool, views.result_card(payload, tool, data, "", lang)
    yield "generic-text", views.result_card(payload, "ext_tool", None, payload, lang)
    yield "generic-json", views.result_card(payload, "ext_tool", {"out": payload, "n": [payload]}, "", lang)
    yield "error", Card(title=payload, blocks=tuple(views.error_blocks(lang, payload, "forbidden")))
    yield (
        "llm-answer",
        Card(title="AI", blocks=(Markdown(payload), Markdown(f"**{payload}** `{payload}`\n- {payload}"))),
    )
    yield "notice", notice_card(lang, payload, payload, Tone.WARNING)
    yield "help", help_card(lang, problem=payload)
    facts = CallFacts("delete_pod", "delete", "pods", "default", "dev", "high", True)
    decision = Decision(Effect.DENY, payload, Why.DENIED_BY_RULE, payload)
    yield "refusal", refusal_card(lang, facts, decision)
    yield "dry-run-error", dry_run_error_card(lang, facts, "invalid", payload)
    yield (
        "every-block",
        Card(
            title=payload,
            blocks=(
                Markdown(payload),
                Fields(((payload, payload), ("k", payload))),
                Table((payload, "b"), ((payload, payload),), truncated=payload),
                Code(payload, truncated=payload),
                Note(payload, Tone.DANGER),
            ),
            buttons=(Button(payload[:30] or "x", Action("noop", {"v": "1"})),),
            footer=payload,
            input_hint=payload,
        ),
    )


@pytest.mark.parametrize("lang", [Lang.ZH, Lang.EN])
@pytest.mark.parametrize("payload", HOSTILE, ids=[f"h{i}" for i in range(len(HOSTILE))])
def test_no_card_renders_live_markup_on_any_platform(payload: str, lang: Lang) -> None:
    problems: list[str] = []
    for name, card in cards_for(payload, lang):
        feishu = render_feishu(card, sign=_sign, lang=lang)
        problems += [f"feishu/{name}: table not plain: {c}" for c in feishu_plain_fields_are_plain(feishu)]
        for text in feishu_markdown(feishu):
            problems += [f"feishu/{name}: {p}" for p in live_markup(text, "feishu")]
        dingtalk = render_dingtalk(card, sign=_sign, conversation_id="cid", is_group=True, lang=lang)
        for text in dingtalk_markdown(dingtalk):
            problems += [f"dingtalk/{name}: {p}" for p in live_markup(text, "dingtalk")]
        problems += [f"console/{name}: {p}" for p in live_terminal(render_card(card))]
    assert problems == []


def test_the_corpus_is_live_markup_when_not_escaped_so_the_checker_can_fail() -> None:
    # Each payload is caught by the checker when pasted raw: a green run above means escaping, not blindness.
    for payload in HOSTILE:
        if payload == ENTITIES:
            continue  # not markup raw; see the test below
        raw = payload.replace("\r", "")
        caught = live_markup(raw, "feishu") or live_markup(raw, "dingtalk") or live_terminal(payload)
        assert caught, payload


def test_the_issue_image_name_and_event_message_show_as_text_on_both_platforms() -> None:
    assert feishu_text(IMAGE) == (
        "registry.example.com/app&lt;at id=all&gt;&lt;/at&gt;&#91;Approve now&#93;(https&#58;//evil.example/approve):1"
    )
    assert dingtalk_text(EVENT).startswith("&lt;at id=all&gt;&lt;/at&gt; Back-off restarting failed container \\[Open")
    assert "<font" not in feishu_text(EVENT) and "<font" not in dingtalk_text(EVENT)


def test_entities_in_outside_text_are_shown_as_written_not_decoded() -> None:
    assert feishu_text(ENTITIES).startswith("&amp;lt;at id=all&amp;gt;")
    assert dingtalk_text(ENTITIES).startswith("&amp;lt;at id=all&amp;gt;")


def test_a_log_line_of_backticks_cannot_close_the_code_block() -> None:
    log = "before\n```\n<at id=all></at> [x](https://evil.example)\n````\nafter"
    outside, blocks, problems = split_code(code_block(log))
    assert problems == [] and outside == [] and len(blocks) == 1
    assert "after" in blocks[0][-1] and "before" in blocks[0][0]


def test_our_light_markdown_keeps_bold_code_and_items_but_nothing_else() -> None:
    text = light("**Findings**\n- `cart-1` <at id=all> [a](https://x.example) `a<b`", FEISHU)
    assert text.startswith(
        "**Findings**\n- `cart-1` &lt;at id=all&gt; &#91;a&#93;(https&#58;//x.example) &#96;a&lt;b&#96;"
    )


def test_a_long_run_of_markup_characters_is_escaped_in_one_pass() -> None:
    # 100k would-be code spans holding a tag, and a bold opener that never closes: the scanner never rescans
    # (no timing asserted; a quadratic scan would take minutes here and hit the suite's timeout instead).
    out = light("**" + "`<`" * 100_000, FEISHU)
    assert "`" not in out and "<" not in out and out.startswith("&#42;&#42;&#96;&lt;&#96;&#96;&lt;&#96;")


def test_the_console_shows_control_sequences_as_visible_escapes() -> None:
    card = Card(title="\x1b]0;pwned\x07pods", blocks=(Code("ok\x1b[2J\u202eevil"), Table(("a",), (("x\x9by",),))))
    out = render_card(card)
    assert live_terminal(out) == []
    assert "\\x1b]0;pwned\\x07pods" in out and "<U+202E>evil" in out and "x\\x9by" in out


def test_hostile_instances_validate_as_the_models_they_stand_for() -> None:
    for _tool, (model, _view) in views._VIEWS.items():
        data: dict[str, Any] = hostile_instance(model, "x")
        model.model_validate(data)
