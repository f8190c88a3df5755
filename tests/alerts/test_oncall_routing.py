"""The routing file's on-call people (ids with optional names), and where DingTalk media go (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.alerts.cards import alert_card
from bot.alerts.incidents import Incident
from bot.alerts.routing import Priority, Routing, RoutingError, oncall_entry
from bot.channels.dingtalk.api import DingTalkApi
from bot.channels.dingtalk.media import media_base
from bot.core.cards import Mention


def test_on_call_people_may_carry_a_display_name_and_bad_entries_fail_with_the_file_named(tmp_path: Path) -> None:
    good = tmp_path / "routes.yaml"
    good.write_text(
        'default:\n  chats: [feishu:oc_1]\n  oncall: [feishu:ou_a, {id: "dingtalk:staff-z", name: 张 三}]\n',
        encoding="utf-8",
    )
    route = Routing.load(good).route({})
    assert [oncall_entry(e) for e in route.oncall] == [("feishu:ou_a", "ou_a"), ("dingtalk:staff-z", "张 三")]
    for bad in ('["slack:u1"]', '[{id: "feishu:ou_a", phone: "1"}]', '["feishu:"]'):
        path = tmp_path / "bad.yaml"
        path.write_text(f"default:\n  chats: [feishu:oc_1]\n  oncall: {bad}\n", encoding="utf-8")
        with pytest.raises(RoutingError, match="bad.yaml"):
            Routing.load(path)


def test_the_alert_card_mentions_by_priority_and_a_resolved_card_mentions_nobody() -> None:
    def card_mention(priority: Priority, resolved: bool = False) -> Mention | None:
        inc = Incident(id="i1", group_key="g", priority=priority, opened_at=0.0, oncall=["feishu:ou_a 阿"])
        if resolved:
            inc.status = inc.status.RESOLVED
        return next((b for b in alert_card(inc).blocks if isinstance(b, Mention)), None)

    p0, p1 = card_mention(Priority.P0), card_mention(Priority.P1)
    assert p0 is not None and p0.everyone and p0.urgent and p0.people == (("feishu:ou_a", "阿"),)
    assert p1 is not None and not p1.everyone and not p1.urgent and p1.people == (("feishu:ou_a", "阿"),)
    assert card_mention(Priority.P2) is None and card_mention(Priority.P0, resolved=True) is None


def test_dingtalk_media_go_to_the_old_api_host_for_the_real_endpoint_and_to_any_other_endpoint_as_it_is() -> None:
    real = DingTalkApi(base_url="https://api.dingtalk.com", client_id="c", client_secret="s")
    local = DingTalkApi(base_url="http://127.0.0.1:8080/", client_id="c", client_secret="s")
    assert media_base(real) == "https://oapi.dingtalk.com"
    assert media_base(local) == "http://127.0.0.1:8080"
