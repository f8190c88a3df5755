"""The severity policy through the real bot, the real SDKs and the emulators: Alertmanager-shaped posts to the
bot's webhook over HTTP; P0 is @all plus the platform's urgent escalation (Feishu urgent_app, DingTalk DING) once
per group however often it repeats; P1 @-mentions the on-call people of the routing file for real (Feishu `<at>`,
DingTalk's at-list); P2 mentions nobody."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from bot.alerts.incidents import IncidentStore
from bot.alerts.routing import Priority
from bot.app import build_bot
from bot.store import Store
from tests.alerts.helpers import alert, payload
from tests.channels.conftest import Serve, platform_settings
from tests.channels.emulators.dingtalk import DingTalkEmulator, SentCard
from tests.channels.emulators.feishu import FeishuEmulator, FeishuMessage
from tests.channels.emulators.feishu_extra import mentions
from tests.support.prom import free_port

T = TypeVar("T")
TOKEN = "escalation-token"
POLICY = Path(__file__).parent / "data" / "policy.yaml"
FEISHU_GROUP, DINGTALK_GROUP = "oc_group_1", "cid-group-1"
ROUTES = f"""
routes:
  - name: core
    match: {{team: core}}
    chats: [feishu:{FEISHU_GROUP}, dingtalk:{DINGTALK_GROUP}]
    oncall:
      - feishu:ou_zhang
      - {{id: "feishu:ou_li", name: 李四}}
      - {{id: "dingtalk:staff-zhang", name: 张三}}
default:
  chats: [feishu:{FEISHU_GROUP}, dingtalk:{DINGTALK_GROUP}]
"""


async def eventually(find: Callable[[], T | None], what: str, within: float = 60.0) -> T:
    deadline = time.monotonic() + within
    while True:
        found = find()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class Bot:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/alerts/webhook"

    async def post(self, body: dict[str, Any]) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}) as resp,
        ):
            assert resp.status == 200, await resp.text()


@pytest.fixture
async def alert_bot(
    store: Store,
    redis_url: str,
    sandbox: Any,
    feishu_gateway: FeishuEmulator,
    dingtalk_gateway: DingTalkEmulator,
    serve_bot: Serve,
    tmp_path: Path,
) -> Bot:
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES, encoding="utf-8")
    # who is in the groups: the emulators escalate to and notify members only
    feishu_gateway.extra.members[FEISHU_GROUP] = {"ou_zhang", "ou_li", "ou_alice"}
    dingtalk_gateway.extra.members[DINGTALK_GROUP] = {"staff-zhang", "staff-alice"}
    dingtalk_gateway.extra.staff = {"staff-zhang", "staff-alice", "staff-bob"}
    port = free_port()
    settings = platform_settings(
        dingtalk=dingtalk_gateway,
        feishu=feishu_gateway,
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        redis_url=redis_url,
        key_prefix=f"kdtest-{uuid.uuid4().hex[:10]}",
        llm_api_key=None,
        action_secret="escalation-secret",
        policy_files=[str(POLICY)],
        audit_log_path=str(tmp_path / "audit.jsonl"),
        alerts_port=port,
        alerts_host="127.0.0.1",
        alerts_token=TOKEN,
        alert_routes_file=str(routes),
    )
    await serve_bot(settings, lambda s: build_bot(s, store=store))
    await feishu_gateway.wait_connected()
    await dingtalk_gateway.wait_connected()
    return Bot(port)


def feishu_card(gw: FeishuEmulator, title_part: str) -> FeishuMessage | None:
    return next((m for m in gw.sent() if m.msg_type == "interactive" and title_part in m.title), None)


def dingtalk_card(gw: DingTalkEmulator, title_part: str) -> SentCard | None:
    return next((c for c in gw.sent_cards() if title_part in c.title), None)


async def test_a_p0_alert_is_escalated_once_per_group_with_urgent_app_on_feishu_and_a_ding_on_dingtalk(
    alert_bot: Bot, feishu_gateway: FeishuEmulator, dingtalk_gateway: DingTalkEmulator, store: Store
) -> None:
    fs, dt = feishu_gateway, dingtalk_gateway
    first = alert("KubeNodeDown", pod="node-a", severity="page", team="core")
    await alert_bot.post(payload([first], group="p0", team="core"))

    card = await eventually(lambda: feishu_card(fs, "[P0]"), "the P0 card on Feishu")
    ding_card = await eventually(lambda: dingtalk_card(dt, "[P0]"), "the P0 card on DingTalk")
    assert mentions(card) == ["all"], "Feishu: a real @all in the card"
    assert "@所有人" in ding_card.text and "P0 紧急告警" in ding_card.text
    assert dt.extra.card_mentions[ding_card.out_track_id] == {"@ALL": "@ALL"}, "DingTalk: @all in the delivery"

    urgent = await eventually(lambda: fs.extra.urgent or None, "the urgent_app call")
    assert urgent[0].message_id == card.message_id and urgent[0].chat_id == FEISHU_GROUP
    assert sorted(urgent[0].user_ids) == ["ou_li", "ou_zhang"] and urgent[0].invalid == []
    dings = await eventually(lambda: dt.extra.dings or None, "the DING")
    assert dings[0].receivers == ["staff-zhang"] and dings[0].remind_type == 1 and "[P0]" in dings[0].content

    # the group repeats, grows and is redelivered: the card is updated in place, nobody is escalated to again
    second = alert("KubeNodeDown", pod="node-b", severity="page", team="core")
    await alert_bot.post(payload([first, second], group="p0", team="core"))
    await alert_bot.post(payload([first, second], group="p0", team="core"))
    await eventually(lambda: card if "2 条告警中" in fs.messages[card.message_id].text else None, "the update")
    await eventually(lambda: ding_card if "2 条告警中" in dt.cards[ding_card.out_track_id].text else None, "update")
    await fs.quiet(1.0)
    assert len(fs.extra.urgent) == 1 and len(dt.extra.dings) == 1
    assert len([m for m in fs.sent() if "[P0]" in m.title]) == 1
    assert len([c for c in dt.sent_cards() if "[P0]" in c.title]) == 1
    assert not fs.extra.refused and not dt.extra.refused
    # the incident's timeline records the escalation once per chat, as the report card will show it
    (incident,) = [i for i in await IncidentStore(store).recent(10) if i.priority is Priority.P0]
    assert [e.kind for e in incident.timeline].count("escalated") == 2


async def test_a_p1_card_mentions_the_on_call_people_for_real_and_escalates_nobody(
    alert_bot: Bot, feishu_gateway: FeishuEmulator, dingtalk_gateway: DingTalkEmulator
) -> None:
    fs, dt = feishu_gateway, dingtalk_gateway
    await alert_bot.post(payload([alert("KubePodCrashLooping", severity="critical", team="core")], team="core"))

    card = await eventually(lambda: feishu_card(fs, "[P1]"), "the P1 card on Feishu")
    ding_card = await eventually(lambda: dingtalk_card(dt, "[P1]"), "the P1 card on DingTalk")
    assert mentions(card) == ["ou_zhang", "ou_li"], "the routing file's Feishu on-call people, as <at> tags"
    assert dt.extra.card_mentions[ding_card.out_track_id] == {"staff-zhang": "张三"}
    assert "@张三" in ding_card.text and "请值班同学处理" in ding_card.text
    assert "ou_zhang" not in ding_card.text, "a Feishu id is never shown on DingTalk"
    await fs.quiet(1.0)
    assert fs.extra.urgent == [] and dt.extra.dings == []


async def test_a_p2_card_mentions_nobody(
    alert_bot: Bot, feishu_gateway: FeishuEmulator, dingtalk_gateway: DingTalkEmulator
) -> None:
    await alert_bot.post(payload([alert("KubeDeploymentReplicasMismatch", severity="warning", team="core")]))
    card = await eventually(lambda: feishu_card(feishu_gateway, "[P2]"), "the P2 card on Feishu")
    ding_card = await eventually(lambda: dingtalk_card(dingtalk_gateway, "[P2]"), "the P2 card on DingTalk")
    assert mentions(card) == [] and ding_card.out_track_id not in dingtalk_gateway.extra.card_mentions
    assert "@" not in ding_card.data.get("markdown", "")


async def test_a_group_that_forbids_at_all_still_gets_the_p0_card_mentioning_the_on_call_and_the_escalation(
    alert_bot: Bot, feishu_gateway: FeishuEmulator, dingtalk_gateway: DingTalkEmulator
) -> None:
    fs, dt = feishu_gateway, dingtalk_gateway
    fs.extra.refuse_at_all = dt.extra.refuse_at_all = True
    await alert_bot.post(payload([alert("KubeNodeDown", pod="node-c", severity="page", team="core")], team="core"))
    card = await eventually(lambda: feishu_card(fs, "[P0]"), "the P0 card on Feishu")
    ding_card = await eventually(lambda: dingtalk_card(dt, "[P0]"), "the P0 card on DingTalk")
    assert mentions(card) == ["ou_zhang", "ou_li"] and "@所有人" in card.text, "@all as text, the on-call @-ed"
    assert dt.extra.card_mentions[ding_card.out_track_id] == {"staff-zhang": "张三"} and "@所有人" in ding_card.text
    assert fs.extra.refused and dt.extra.refused, "the platforms refused the first try"
    await eventually(lambda: fs.extra.urgent or None, "the urgent_app call")
    await eventually(lambda: dt.extra.dings or None, "the DING")
