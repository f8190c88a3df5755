"""The same Card renders to DingTalk card template data and to Feishu card JSON 2.0: valid, bounded, signed."""

from __future__ import annotations

import json

import pytest

from bot.core.actions import Action, ActionCodec, InvalidPayload
from bot.render.dingtalk import BUTTON_PARAMS as DINGTALK_BUTTON_PARAMS
from bot.render.dingtalk import MAX_CARD_BYTES as DINGTALK_MAX
from bot.render.dingtalk import TEMPLATE_VARIABLES as DINGTALK_VARIABLES
from bot.render.dingtalk import button_params, render_dingtalk
from bot.render.feishu import MAX_CARD_BYTES as FEISHU_MAX
from bot.render.feishu import button_payload, render_feishu
from bot.render.model import Button, ButtonStyle, Card, Code, Fields, Markdown, Note, Table, Tone
from bot.render.templates import json_size

CHAT = "feishu:oc_1"
codec = ActionCodec("render-test-secret", ttl_seconds=600)


def sign(action: Action) -> str:
    return codec.encode(action, CHAT)


NASTY = 'quote " backslash \\ brace {{ x }} {% if %} <at id=all></at> </script> 中文 \u2028 \x00 end'


def sample(**overrides: object) -> Card:
    values: dict[str, object] = {
        "title": "Pods in dev " + NASTY,
        "blocks": (
            Markdown("**bold** " + NASTY),
            Fields((("namespace", "dev"), ("ready", "2/3"))),
            Table(
                ("NAME", "STATUS"),
                (("cart-service-v1", "Running"), ("cart-service-v2", NASTY)),
                truncated="showing 2 of 9",
            ),
            Code("line 1\nline 2 " + NASTY),
            Note("careful", Tone.WARNING),
        ),
        "buttons": (
            Button("v2 logs", Action("pick", {"t": "pod_logs", "v": "cart-service-v2"}), ButtonStyle.PRIMARY),
            Button("Cancel", Action("cancel"), ButtonStyle.DANGER),
        ),
        "footer": "footer " + NASTY,
        "input_hint": "or type a pod name",
    }
    values.update(overrides)
    return Card(**values)  # type: ignore[arg-type]


def test_user_text_with_json_and_template_syntax_keeps_the_document_intact_and_never_becomes_a_mention() -> None:
    for doc in (
        render_feishu(sample(), sign=sign, lang="en"),
        render_dingtalk(sample(), sign=sign, conversation_id="cid", is_group=True, lang="en"),
    ):
        strings = _strings(json.loads(json.dumps(doc)))
        assert any(s.endswith("Pods in dev " + NASTY) for s in strings)  # the plain-text title: verbatim
        # template syntax is data, not evaluated; the mention tag is escaped wherever markdown is rendered
        assert sum("{{ x }} {% if %}" in s for s in strings) >= 3
    feishu = render_feishu(sample(), sign=sign, lang="en")
    markdown = [el["content"] for el in feishu["body"]["elements"] if el.get("tag") == "markdown"]
    dingtalk = render_dingtalk(sample(), sign=sign, conversation_id="cid", is_group=True, lang="en")
    for text in [*markdown, dingtalk["markdown"], dingtalk["footer"]]:
        assert "<at id=all>" not in text


def _strings(doc: object) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in _strings(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return []


def test_feishu_card_is_schema_2_with_header_tone_and_buttons_carrying_verifiable_payloads() -> None:
    doc = render_feishu(sample(tone=Tone.DANGER), sign=sign, lang="en")
    assert doc["schema"] == "2.0" and doc["header"]["template"] == "red"
    buttons = [
        el
        for block in doc["body"]["elements"]
        if block["tag"] == "column_set"
        for col in block["columns"]
        for el in col["elements"]
    ]
    assert [b["text"]["content"] for b in buttons] == ["v2 logs", "Cancel"]
    assert [b["type"] for b in buttons] == ["primary", "danger"]
    payload = button_payload(buttons[0]["behaviors"][0]["value"])
    assert payload is not None and codec.decode(payload, CHAT) == Action(
        "pick", {"t": "pod_logs", "v": "cart-service-v2"}
    )
    with pytest.raises(InvalidPayload):
        codec.decode(payload, "feishu:oc_other")
    table = next(el for el in doc["body"]["elements"] if el["tag"] == "table")
    assert table["rows"][0] == {"c0": "cart-service-v1", "c1": "Running"}
    assert any("showing 2 of 9" in s for s in _strings(doc))


def test_dingtalk_card_data_are_template_strings_with_request_buttons_naming_their_conversation() -> None:
    doc = render_dingtalk(sample(), sign=sign, conversation_id="cid-9", is_group=False, lang="en")
    assert set(doc) == set(DINGTALK_VARIABLES) and all(isinstance(v, str) for v in doc.values())
    first = json.loads(doc["buttons"])[0]
    assert first["text"] == "v2 logs" and first["status"] == "primary"
    sent_back = {name: first[name] for name in DINGTALK_BUTTON_PARAMS}  # what the template's button returns
    params = button_params({"cardPrivateData": {"actionIds": [first["id"]], "params": sent_back}})
    assert params is not None and params["cid"] == "cid-9" and params["g"] == "0"
    assert codec.decode(params["p"], CHAT).op == "pick"
    assert button_params({"cardPrivateData": {"params": {"cid": "x"}}}) is None  # not one of ours


@pytest.mark.parametrize("lang, marker", [("en", "(truncated)"), ("zh", "已截断")])
def test_huge_logs_are_cut_under_each_platforms_limit_with_a_visible_marker_keeping_the_newest_lines(
    lang: str, marker: str
) -> None:
    log = "\n".join(f"2026-11-22T02:00:{i % 60:02d} INFO line {i} " + "x" * 80 for i in range(20_000))
    card = sample(blocks=(Markdown("intro"), Code(log)))
    feishu = render_feishu(card, sign=sign, lang=lang)
    dingtalk = render_dingtalk(card, sign=sign, conversation_id="cid", is_group=True, lang=lang)
    assert json_size(feishu) <= FEISHU_MAX < 30_000
    assert json_size(dingtalk) <= DINGTALK_MAX
    for doc in (feishu, dingtalk):
        text = "\n".join(_strings(doc))
        assert marker in text and "line 19999 " in text and "line 0 " not in text
        assert "v2 logs" in text  # the buttons survive the cut


def test_many_blocks_and_a_long_table_are_bounded_and_say_so() -> None:
    rows = tuple((f"pod-{i}", "Running") for i in range(5000))
    card = sample(
        blocks=tuple(Markdown(f"para {i} " + "y" * 3000) for i in range(60)) + (Table(("NAME", "STATUS"), rows),)
    )
    for doc in (
        render_feishu(card, sign=sign, lang="en"),
        render_dingtalk(card, sign=sign, conversation_id="c", is_group=True, lang="en"),
    ):
        assert json_size(doc) <= FEISHU_MAX
        assert any("(truncated)" in s for s in _strings(doc))


def test_a_button_whose_action_is_too_big_to_sign_is_left_out_instead_of_breaking_the_card() -> None:
    big = Button("too big", Action("pick", {"v": "z" * 5000}))
    doc = render_feishu(sample(buttons=(big, Button("ok", Action("cancel")))), sign=sign, lang="en")
    labels = [s for s in _strings(doc) if s in ("too big", "ok")]
    assert labels == ["ok"]


def test_the_card_language_follows_the_card_meta_over_the_event() -> None:
    card = sample(blocks=(Code("a\n" * 40_000),), meta={"lang": "zh"})
    doc = render_feishu(card, sign=sign, lang="en")
    assert any("已截断" in s for s in _strings(doc))
