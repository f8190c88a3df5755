"""The emulators refuse what the real platforms refuse, with the real error codes, for streaming and edits:
Feishu's 21st PATCH of a message (230072), CardKit sequences that do not rise (300317), more than 10 updates/s
of one card (99991400), streaming text after streaming closed, a streaming card left open (reported); DingTalk
AI-card updates less than 800 ms apart (403 QpsLimit), more than 50 streaming calls/s per robot (429), an AI card
never finalised (reported). Requests go over raw HTTP: these test the emulators, not the bot. No timing
assertions: the "too fast" checks send until the emulator refuses, however slow the machine is."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator

MANY = 500  # "until refused": far more than any limit, bounded so a broken emulator fails instead of hanging


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    async with http.request(method, url, json=body, headers=headers) as resp:
        doc = await resp.json()
        return resp.status, doc


# --- Feishu --------------------------------------------------------------------------------------------------


def fs_headers(gw: FeishuEmulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {gw.token}"}


def card_doc(streaming: bool) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "streaming_mode": streaming},
        "header": {"title": {"tag": "plain_text", "content": "t"}},
        "body": {"elements": [{"tag": "markdown", "element_id": "answer", "content": ""}]},
    }


async def new_entity(http: aiohttp.ClientSession, gw: FeishuEmulator, streaming: bool = True) -> str:
    body = {"type": "card_json", "data": json.dumps(card_doc(streaming))}
    status, doc = await call(http, "POST", f"{gw.url}/open-apis/cardkit/v1/cards", body, fs_headers(gw))
    assert status == 200 and doc["code"] == 0, doc
    return str(doc["data"]["card_id"])


async def put_text(http: aiohttp.ClientSession, gw: FeishuEmulator, card_id: str, seq: int) -> Any:
    url = f"{gw.url}/open-apis/cardkit/v1/cards/{card_id}/elements/answer/content"
    return await call(
        http, "PUT", url, {"content": f"text {seq}", "sequence": seq, "uuid": uuid.uuid4().hex}, fs_headers(gw)
    )


async def test_feishu_refuses_the_21st_patch_of_one_message_with_230072(
    feishu_gateway: FeishuEmulator, http: aiohttp.ClientSession
) -> None:
    gw = feishu_gateway
    content = json.dumps(card_doc(False))
    url = f"{gw.url}/open-apis/im/v1/messages?receive_id_type=chat_id"
    status, doc = await call(
        http, "POST", url, {"receive_id": "oc_x", "msg_type": "interactive", "content": content}, fs_headers(gw)
    )
    mid = doc["data"]["message_id"]
    answers = [
        await call(http, "PATCH", f"{gw.url}/open-apis/im/v1/messages/{mid}", {"content": content}, fs_headers(gw))
        for _ in range(21)
    ]
    assert [d["code"] for _, d in answers[:20]] == [0] * 20
    assert answers[20][1]["code"] == 230072 and answers[20][0] == 400


async def test_feishu_refuses_a_cardkit_sequence_that_does_not_rise_with_300317(
    feishu_gateway: FeishuEmulator, http: aiohttp.ClientSession
) -> None:
    gw = feishu_gateway
    card_id = await new_entity(http, gw)
    assert (await put_text(http, gw, card_id, 5))[1]["code"] == 0
    for seq in (5, 4):
        status, doc = await put_text(http, gw, card_id, seq)
        assert status == 400 and doc["code"] == 300317


async def test_feishu_refuses_more_than_ten_updates_a_second_of_one_card(
    feishu_gateway: FeishuEmulator, http: aiohttp.ClientSession
) -> None:
    gw = feishu_gateway
    card_id = await new_entity(http, gw)
    refused = None
    for seq in range(1, MANY):
        status, doc = await put_text(http, gw, card_id, seq)
        if doc["code"] != 0:
            refused = doc
            break
    assert refused is not None and refused["code"] == 99991400


async def test_feishu_refuses_streaming_text_once_streaming_is_closed_and_reports_open_cards(
    feishu_gateway: FeishuEmulator, http: aiohttp.ClientSession
) -> None:
    gw = feishu_gateway
    closed, left_open = await new_entity(http, gw), await new_entity(http, gw)
    settings = {"settings": json.dumps({"config": {"streaming_mode": False}}), "sequence": 1}
    url = f"{gw.url}/open-apis/cardkit/v1/cards/{closed}/settings"
    assert (await call(http, "PATCH", url, settings, fs_headers(gw)))[1]["code"] == 0
    status, doc = await put_text(http, gw, closed, 2)
    assert doc["code"] == 300309
    assert gw.cardkit.unclosed() == [left_open]
    with pytest.raises(AssertionError, match="left open"):
        gw.cardkit.assert_all_closed()


# --- DingTalk ------------------------------------------------------------------------------------------------


def dt_headers(gw: DingTalkEmulator) -> dict[str, str]:
    return {"x-acs-dingtalk-access-token": gw.token}


async def new_ai_card(http: aiohttp.ClientSession, gw: DingTalkEmulator) -> str:
    out = uuid.uuid4().hex
    body = {
        "cardTemplateId": gw.aicard.template_id,
        "outTrackId": out,
        "callbackType": "STREAM",
        "cardData": {"cardParamMap": {"title": "t", "markdown": "", "flowStatus": "1"}},
        "openSpaceId": "dtv1.card//IM_GROUP.cid-group-1",
        "imGroupOpenSpaceModel": {"supportForward": False},
        "imGroupOpenDeliverModel": {"robotCode": gw.client_id},
    }
    status, doc = await call(http, "POST", f"{gw.url}/v1.0/card/instances/createAndDeliver", body, dt_headers(gw))
    assert status == 200, doc
    return out


async def stream(
    http: aiohttp.ClientSession, gw: DingTalkEmulator, out: str, text: str, *, finalize: bool = False
) -> Any:
    body = {
        "outTrackId": out,
        "guid": uuid.uuid4().hex,
        "key": "markdown",
        "content": text,
        "isFull": True,
        "isFinalize": finalize,
        "isError": False,
    }
    return await call(http, "PUT", f"{gw.url}/v1.0/card/streaming", body, dt_headers(gw))


async def test_dingtalk_refuses_an_ai_card_update_within_800_ms_of_the_previous_one(
    dingtalk_gateway: DingTalkEmulator, http: aiohttp.ClientSession
) -> None:
    gw = dingtalk_gateway
    out = await new_ai_card(http, gw)
    refused = None
    for i in range(MANY):
        status, doc = await stream(http, gw, out, f"text {i}")
        if status != 200:
            refused = (status, doc["code"])
            break
    assert refused == (403, "QpsLimit")
    # the full card update counts as an update of the card too
    refused = None
    update = {"outTrackId": out, "cardData": {"cardParamMap": {"title": "t", "markdown": "m", "flowStatus": "2"}}}
    for _ in range(MANY):
        await stream(http, gw, out, "text")
        status, doc = await call(http, "PUT", f"{gw.url}/v1.0/card/instances", update, dt_headers(gw))
        if status != 200:
            refused = (status, doc["code"])
            break
    assert refused == (403, "QpsLimit")


async def test_dingtalk_refuses_more_than_50_streaming_calls_a_second_per_robot_with_429(
    dingtalk_gateway: DingTalkEmulator, http: aiohttp.ClientSession
) -> None:
    gw = dingtalk_gateway
    cards = [await new_ai_card(http, gw) for _ in range(60)]
    statuses: list[int] = []
    for _ in range(MANY // 60):
        answers = await asyncio.gather(*(stream(http, gw, out, "x") for out in cards))
        statuses += [status for status, _ in answers]
        if 429 in statuses:
            break
    assert 429 in statuses


async def test_dingtalk_reports_an_ai_card_never_finalised(
    dingtalk_gateway: DingTalkEmulator, http: aiohttp.ClientSession
) -> None:
    gw = dingtalk_gateway
    done, forgotten = await new_ai_card(http, gw), await new_ai_card(http, gw)
    assert (await stream(http, gw, done, "all good", finalize=True))[0] == 200
    while True:  # FINISHED after the 800 ms gap, however long the machine takes
        update = {"outTrackId": done, "cardData": {"cardParamMap": {"flowStatus": "3"}}}
        status, _ = await call(http, "PUT", f"{gw.url}/v1.0/card/instances", update, dt_headers(gw))
        if status == 200:
            break
        await asyncio.sleep(0.2)
    assert gw.aicard.unfinalized() == [forgotten]
    assert (await stream(http, gw, done, "more"))[1]["code"] == "card.streamingFinished"
    with pytest.raises(AssertionError, match="never finalised"):
        gw.aicard.assert_all_finalized()
