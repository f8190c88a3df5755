"""DingTalk cards measured as sent: the public data and every approver's private data together under the limit,
the chat-list preview short, typed replies that are never mistaken for words, card updates within the tenant's
rate."""

from __future__ import annotations

import asyncio

from bot.channels.dingtalk import aicard
from bot.channels.dingtalk.api import DingTalkApi
from bot.channels.dingtalk.delivery import CardDelivery, Where, button_lang, new_code
from bot.core.actions import Action, ActionCodec
from bot.core.i18n import Lang
from bot.render.dingtalk import (
    ENVELOPE_BYTES,
    MAX_BODY_BYTES,
    PREVIEW_CHARS,
    render_dingtalk_card,
    wire_size,
)
from bot.render.model import Button, ButtonStyle, Card, Code, Markdown
from tests.channels.emulators import dingtalk_cards
from tests.channels.emulators.dingtalk import DingTalkEmulator

codec = ActionCodec("wire-test-secret", ttl_seconds=900)


def sign(action: Action) -> str:
    return codec.encode(action, "dingtalk:cid-1")


def approval(approvers: int, text: str = "a change") -> Card:
    audience = tuple(f"dingtalk:staff-{i}" for i in range(approvers))
    return Card(
        "Confirm change: scale “cart-service” " + "x" * 200,
        (Markdown(text), Code('"quoted" \\ log line\n' * 3000)),
        (
            Button("Approve", Action("approval.confirm", {"id": "a" * 32}), ButtonStyle.PRIMARY, audience),
            Button("Cancel", Action("approval.cancel", {"id": "a" * 32})),
        ),
    )


def test_twenty_approvers_and_a_huge_log_fit_in_one_body_with_the_truncation_marker() -> None:
    out = render_dingtalk_card(approval(20), sign=sign, conversation_id="cid-1", is_group=True, lang="en")
    assert len(out.private) == 20  # every approver gets the Approve button privately
    assert wire_size(out.public, out.private) + ENVELOPE_BYTES <= MAX_BODY_BYTES
    assert "(truncated)" in out.public["markdown"]
    assert "Approve" not in out.public["buttons"] and "Approve" in out.private["staff-3"]["buttons"]


def test_too_many_approvers_to_repeat_the_buttons_for_put_them_on_the_shared_card() -> None:
    out = render_dingtalk_card(approval(40), sign=sign, conversation_id="cid-1", is_group=True, lang="en")
    assert out.private == {} and "Approve" in out.public["buttons"]
    assert wire_size(out.public) + ENVELOPE_BYTES <= MAX_BODY_BYTES


def test_people_who_had_private_buttons_get_the_shared_ones_back_when_the_card_changes() -> None:
    done = Card("Done: scale", (Markdown("ran"),), (Button("Pods", Action("run", {"t": "list_pods"})),))
    out = render_dingtalk_card(done, sign=sign, conversation_id="cid-1", is_group=True, lang="en", also=("staff-1",))
    assert out.private["staff-1"]["buttons"] == out.public["buttons"]


def test_the_chat_list_preview_is_one_short_line_in_the_cards_language() -> None:
    out = render_dingtalk_card(approval(1), sign=sign, conversation_id="cid-1", is_group=True, lang="en")
    assert len(out.preview["ZH_CN"]) <= PREVIEW_CHARS and out.preview["EN_US"] == out.preview["ZH_CN"]
    assert out.preview["ZH_CN"].endswith("…") and out.public["lastMessage"] == out.preview["ZH_CN"]


def test_a_buttons_id_says_its_cards_language_for_the_notice_about_a_click() -> None:
    out = render_dingtalk_card(approval(0), sign=sign, conversation_id="cid-1", is_group=True, lang="en")
    assert '"id":"btn0.en"' in out.public["buttons"]
    assert button_lang({"cardPrivateData": {"actionIds": ["btn0.en"]}}) == "en"
    assert button_lang({"cardPrivateData": {"actionIds": ["btn0"]}}) is None


def test_a_typed_code_always_mixes_letters_and_digits_so_no_word_is_one() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(any(c.isdigit() for c in code) and any(c.isalpha() for c in code) for code in codes)
    assert not codes & {"PODS", "LOGS", "HELP", "2024"}


async def test_card_updates_of_one_app_stay_under_the_tenants_rate_however_many_arrive_at_once(
    dingtalk_gateway: DingTalkEmulator,
) -> None:
    gw = dingtalk_gateway
    api = DingTalkApi(base_url=gw.url, client_id=gw.client_id, client_secret=gw.client_secret)
    try:
        delivery = CardDelivery(api=api, store=None, template_id=gw.template_id)
        where = Where(chat_key="dingtalk:cid-group-1", conversation_id="cid-group-1", is_group=True, user_id="u1")
        refs = [await delivery.send(Card(title=f"card {i}"), where, sign, Lang.EN) for i in range(4)]
        # 48 updates at once (a storm of alert cards, say): without the shared window the emulator refuses the 21st
        await asyncio.gather(
            *(delivery.update(str(refs[i % 4]), Card(title=f"update {i}"), where, sign, Lang.EN) for i in range(48))
        )
        assert not [r for r in gw.refused if "QpsLimit" in r], gw.refused
        assert len(dingtalk_cards.updates_at(gw)) == 48
        assert dingtalk_cards.busiest_second(gw) <= aicard.TENANT_UPDATES_PER_SECOND
        times = dingtalk_cards.updates_at(gw)
        print(f"\n48 updates in {times[-1] - times[0]:.2f} s, busiest second {dingtalk_cards.busiest_second(gw)}")
    finally:
        await api.close()


async def test_the_emulator_refuses_card_updates_over_the_tenants_rate(dingtalk_gateway: DingTalkEmulator) -> None:
    gw = dingtalk_gateway
    api = DingTalkApi(base_url=gw.url, client_id=gw.client_id, client_secret=gw.client_secret)
    try:
        ref = await api.send_card(gw.template_id, {"title": "t"}, conversation_id="cid-group-1", user_id=None)
        results = await asyncio.gather(
            *(api.update_card(ref, {"title": f"u{i}"}) for i in range(40)), return_exceptions=True
        )  # no window: as fast as the loop sends them
        assert any(isinstance(r, Exception) for r in results)
        assert any("QpsLimit" in r for r in gw.refused)
    finally:
        await api.close()
