"""DingTalk used natively, end to end (the real bot, real Redis, the sandbox cluster, the real SDK against the
emulator): approvers @-mentioned and the Approve button shown only to them (privateData), a choice replacing its
card in place, the markdown mode without a card template (numbered replies, typed codes), and cards that fit on
the wire."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.render import names
from bot.settings import Settings
from bot.store import Store
from tests.channels.conftest import Serve, platform_settings
from tests.channels.emulators import dingtalk_cards
from tests.channels.emulators.dingtalk import CREATE_AND_DELIVER, DingTalkEmulator, SentCard
from tests.channels.emulators.feishu import FeishuEmulator
from tests.channels.test_scenarios_real_bot import builder, eventually

APPROVALS_POLICY = Path(__file__).parent / "data" / "approvals-policy.yaml"
SCALE = "/scale cart-service-v1 3 -n dev"


@pytest.fixture(autouse=True)
def no_names_left_behind() -> Iterator[None]:
    """Names learned here ("Bob") are process memory: later tests in this process must not inherit them."""
    yield
    names.forget_all()


def approval_settings(sandbox: Any, redis_url: str, audit: Path, **platforms: Any) -> Settings:
    return platform_settings(
        **platforms,
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        redis_url=redis_url,
        key_prefix=f"kdtest-{uuid.uuid4().hex[:10]}",
        llm_api_key=None,
        action_secret="native-dingtalk-secret",
        policy_files=[str(APPROVALS_POLICY)],
        audit_log_path=str(audit),
    )


def labels(card: SentCard) -> list[str]:
    return [b["label"]["text"] for b in card.buttons()]


def card_titled(gw: DingTalkEmulator, part: str) -> SentCard | None:
    return next((c for c in reversed(gw.sent_cards()) if part in c.title), None)


def replicas(sandbox: Any) -> int:
    return int(sandbox.cluster.peek("deployments", "dev", "cart-service-v1")["spec"]["replicas"])


def texts(gw: DingTalkEmulator) -> list[str]:
    return [str(t["text"]) for t in gw.texts]


async def test_an_approval_shows_the_approve_button_only_to_the_approvers_and_mentions_them(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    await serve_bot(approval_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw), builder(store))
    await gw.wait_connected()
    await gw.say("/help", user_id="staff-bob", nick="Bob")  # the bot learns Bob's name from his message
    await eventually(lambda: card_titled(gw, "help"), "the help card for Bob", state=lambda: texts(gw))
    before = replicas(sandbox)

    await gw.say(SCALE)  # Alice, who may scale but needs a second person in dev
    card = await eventually(lambda: card_titled(gw, "Confirm change"), "the approval card", state=lambda: texts(gw))

    as_alice = dingtalk_cards.seen_by(gw, card, "staff-alice")
    as_bob = dingtalk_cards.seen_by(gw, card, "staff-bob")
    as_carol = dingtalk_cards.seen_by(gw, card, "staff-carol")
    assert labels(card) == ["Cancel"]  # the shared card: no Approve for anyone in general
    assert "Approve" not in labels(as_alice)  # the requester sees none
    assert labels(as_bob) == labels(as_carol) == ["Approve", "Cancel"]
    extras = dingtalk_cards.extras(gw, card.out_track_id)
    assert extras.at_users == {"staff-bob": "Bob", "staff-carol": "staff-carol"}  # a real at-list notifies them
    assert "@Bob" in card.text and "@staff-carol" in card.text
    assert extras.preview["ZH_CN"].startswith("Confirm change") and extras.preview["EN_US"] == extras.preview["ZH_CN"]

    # defence in depth: the requester pressing Bob's button (a forged client) is refused by the gate
    await gw.click(as_bob, "Approve", user_id="staff-alice")
    await eventually(lambda: next((t for t in texts(gw) if "cannot approve your own" in t), None), "the refusal notice")
    assert replicas(sandbox) == before
    await gw.click(as_bob, "Approve", user_id="staff-dave")  # and so is anyone without the approver role
    await eventually(lambda: next((t for t in texts(gw) if "it needs the role approver" in t), None), "the refusal")
    assert replicas(sandbox) == before

    await gw.click(as_bob, "Approve", user_id="staff-bob")
    await eventually(lambda: "Done" in card.title or None, "the card replaced by the outcome", state=lambda: card.title)
    assert replicas(sandbox) == 3
    assert "Approve" not in labels(dingtalk_cards.seen_by(gw, card, "staff-bob"))  # his private button went away
    assert "Approve" not in labels(dingtalk_cards.seen_by(gw, card, "staff-carol"))
    assert all(size <= dingtalk_cards.MAX_BODY_BYTES for size in extras.sizes)


async def test_a_choice_replaces_its_card_and_a_second_click_gets_a_notice_in_the_cards_language(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    await serve_bot(approval_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw), builder(store))
    await gw.wait_connected()
    await gw.say("show me the logs of cart-service")
    question = await eventually(
        lambda: next((c for c in gw.sent_cards() if "dev" in labels(c)), None), "the namespace question"
    )
    old = replace(question, data=dict(question.data))  # the card as a slow client still shows it
    await gw.click(question, "dev")
    await eventually(lambda: len(question.versions) > 1 or None, "the question card replaced in place")
    assert "dev" in question.title and labels(question) == []  # the choice shown, the buttons gone
    await eventually(
        lambda: next((c for c in gw.sent_cards() if any("cart-service-v2" in x for x in labels(c))), None),
        "the pods of dev",
        state=lambda: [(c.title, labels(c)) for c in gw.sent_cards()],
    )

    await gw.click(old, "dev", user_id="staff-bob")  # someone else, on the stale card
    notice = await eventually(
        lambda: next((t for t in texts(gw) if "already made" in t), None), "the notice", state=lambda: texts(gw)
    )
    assert not re.search(r"[\u4e00-\u9fff]", notice)  # in the English card's language, not the clicker's default
    assert len(question.versions) == 2  # the card itself is left as it is


async def test_paging_a_choice_turns_the_page_of_the_same_card(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    for i in range(10):
        sandbox.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{i:02d}"}})
    await serve_bot(approval_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw), builder(store))
    await gw.wait_connected()
    await gw.say("show me the logs please")
    question = await eventually(
        lambda: next((c for c in gw.sent_cards() if any(x.startswith("More (9-") for x in labels(c))), None),
        "a long namespace question",
        state=lambda: [(c.title, labels(c)) for c in gw.sent_cards()],
    )
    first, cards = labels(question), len(gw.sent_cards())
    await gw.click(question, "More (9-")
    await eventually(lambda: len(question.versions) > 1 or None, "the next page on the same card")
    assert not set(first[:8]) & set(labels(question)[:8]) and any("Previous" in x for x in labels(question))
    assert len(gw.sent_cards()) == cards  # no new card: the page was turned


def no_template(settings: Settings) -> Settings:
    return settings.model_copy(update={"dingtalk_card_template_id": None})


def numbered(text: str, label: str) -> str | None:
    m = re.search(rf"^(\d+)\. {re.escape(label)}$", text, re.MULTILINE)
    return m.group(1) if m else None


async def test_without_a_template_choices_are_numbered_and_a_typed_number_picks_one(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    settings = no_template(approval_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw))
    await serve_bot(settings, builder(store))
    await gw.wait_connected()
    await gw.say("hi，帮我看一下 cart-service 的日志")
    question = await eventually(
        lambda: next((t for t in texts(gw) if "回复序号" in t and numbered(t, "dev")), None),
        "a numbered namespace question",
        state=lambda: texts(gw),
    )
    assert gw.sent_cards() == []  # markdown messages, no cards
    number = numbered(question, "dev")
    assert number is not None
    await gw.say(number)
    pods = await eventually(
        lambda: next((t for t in texts(gw)[1:] if "回复序号" in t and "cart-service-v2" in t), None),
        "the pods of dev offered by number",
        state=lambda: texts(gw),
    )
    assert "cart-service-v1" in pods and "dev" in pods


async def test_without_a_template_an_approver_confirms_by_typing_the_code_and_it_runs_once(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = dingtalk_gateway
    settings = no_template(approval_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw))
    await serve_bot(settings, builder(store))
    await gw.wait_connected()
    before = replicas(sandbox)
    await gw.say(SCALE)
    card = await eventually(
        lambda: next((t for t in texts(gw) if "Confirm change" in t), None), "the approval", state=lambda: texts(gw)
    )
    m = re.search(r"Reply `([A-Z2-9]{4})`: Approve", card)
    assert m is not None, card
    code = m.group(1)

    await gw.say(code)  # the requester: refused like a click of hers would be
    await eventually(lambda: next((t for t in texts(gw) if "cannot approve your own" in t), None), "the refusal")
    assert replicas(sandbox) == before

    await gw.say(f"approve {code.lower()}", user_id="staff-bob", nick="Bob")
    await eventually(lambda: next((t for t in texts(gw) if "Done" in t), None), "the outcome", state=lambda: texts(gw))
    assert replicas(sandbox) == 3
    await gw.say(code, user_id="staff-carol", nick="Carol")  # a late approver: exactly once
    await eventually(lambda: next((t for t in texts(gw) if "already been run" in t), None), "the late notice")
    assert len([t for t in texts(gw) if "Done" in t]) == 1


async def test_the_emulator_refuses_an_over_size_card_body_as_sent(dingtalk_gateway: DingTalkEmulator) -> None:
    gw = dingtalk_gateway
    async with aiohttp.ClientSession() as http:
        token = await (
            await http.post(
                f"{gw.url}/v1.0/oauth2/accessToken", json={"appKey": gw.client_id, "appSecret": gw.client_secret}
            )
        ).json()
        body = {
            "cardTemplateId": gw.template_id,
            "outTrackId": "big-1",
            "callbackType": "STREAM",
            "cardData": {"cardParamMap": {"markdown": "“引号”" * 5000}},  # 30 KB of UTF-8
            "openSpaceId": "dtv1.card//IM_GROUP.cid-group-1",
            "imGroupOpenSpaceModel": {"supportForward": False},
            "imGroupOpenDeliverModel": {"robotCode": gw.client_id},
        }
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"x-acs-dingtalk-access-token": token["accessToken"], "Content-Type": "application/json"}
        async with http.post(f"{gw.url}{CREATE_AND_DELIVER}", data=data, headers=headers) as resp:
            assert resp.status == 400
    assert gw.sent_cards() == [] and any("bytes is over" in r for r in gw.refused)


async def test_on_feishu_the_approval_card_stays_shared_and_mentions_the_approvers(
    store: Store, redis_url: str, sandbox: Any, feishu_gateway: FeishuEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    gw = feishu_gateway
    await serve_bot(approval_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw), builder(store))
    await gw.wait_connected()
    await gw.say(SCALE, user="ou_alice")
    msg = await eventually(
        lambda: next((m for m in gw.sent() if "Confirm change" in m.title), None), "the approval card on Feishu"
    )
    assert "<at id=ou_bob></at>" in json.dumps(msg.content, ensure_ascii=False)  # a real mention
    assert any("Approve" in b["text"]["content"] for b in msg.buttons())  # shared: the gate checks the clicker
