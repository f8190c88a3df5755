"""The on-call loop end to end with real parts: the sandbox's /metrics scraped by a real Prometheus evaluating
the shipped rules, a real Alertmanager posting to the bot's webhook, the real bot (`kubeduty run`'s runner)
with the real IM SDKs on the Feishu and DingTalk emulators, real Redis.

The shipped rules wait `for: 2m`; the test loads the same expressions with `for: 0s` so it does not wait."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from bot.app import build_bot
from bot.settings import Settings
from bot.store import Store
from tests.channels.chats import Chat, DingTalkChat, FeishuChat, View
from tests.channels.conftest import Serve, platform_settings
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator
from tests.channels.emulators.feishu_extra import images
from tests.support.prom import Server, free_port, start_alertmanager, start_prometheus

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules" / "kubeduty.rules.yaml"
POLICY = Path(__file__).parent / "data" / "policy.yaml"
TOKEN = "e2e-alerts-token"


async def eventually(find: Callable[[], T | None], what: str, within: float = 120.0, state: Any = None) -> T:
    deadline = time.monotonic() + within
    while True:
        found = find()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; {state() if callable(state) else ''}")
        await asyncio.sleep(0.25)


def quick_rules() -> str:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule["for"] = "0s"
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def monitoring(sandbox: Any) -> Iterator[tuple[Server, Server, int]]:
    if shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None:
        pytest.fail("prometheus / prometheus-alertmanager not installed: run `python -m tests.support.debian`")
    bot_port = free_port()
    am = start_alertmanager(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "kubeduty",
                    "group_by": ["alertname", "namespace", "deployment"],
                    "group_wait": "1s",
                    "group_interval": "2s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "kubeduty",
                        "webhook_configs": [
                            {
                                "url": f"http://127.0.0.1:{bot_port}/alerts/webhook",
                                "send_resolved": True,
                                "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                            }
                        ],
                    }
                ],
            }
        )
    )
    host_port = sandbox.url.split("://", 1)[1]
    prom_cfg = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yaml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am.url.split("://", 1)[1]]}]}]},
        "scrape_configs": [
            {
                "job_name": "sandbox",
                "scheme": "https",
                "tls_config": {"ca_file": str(sandbox.ca_path)},
                "authorization": {"credentials": "sandbox-token"},
                "static_configs": [{"targets": [host_port]}],
            }
        ],
    }
    prom = start_prometheus(yaml.safe_dump(prom_cfg), {"rules.yaml": quick_rules()})
    try:
        yield prom, am, bot_port
    finally:
        prom.stop()
        am.stop()


def title(view: View) -> str:
    return view.text.splitlines()[0] if view.text else ""


def view_titled(chat: Chat, title_part: str, contains: str = "", after: int = 0) -> View | None:
    """A card whose title has `title_part` (DingTalk's shows a tone emoji first) and whose text has `contains`."""
    return next((v for v in chat.views()[after:] if title_part in title(v) and contains in v.text), None)


def shows_chart_image(chat: Chat, view: View) -> bool:
    """An uploaded chart image in the card: Feishu's `img` element, DingTalk's markdown media id."""
    if isinstance(chat, FeishuChat):
        keys = images(view.raw)
        return bool(keys) and all(k in chat.gw.extra.images for k in keys)
    assert isinstance(chat, DingTalkChat)
    media = re.findall(r"!\[chart\]\((@[^)]+)\)", view.raw.data.get("markdown", ""))
    return bool(media) and all(m in chat.gw.extra.media for m in media)


def current(chat: Chat, ref: str) -> View:
    return next(v for v in chat.views() if v.ref == ref)


@pytest.mark.parametrize("driver", ["feishu", "dingtalk"])
async def test_an_oom_in_the_sandbox_is_alerted_claimed_diagnosed_fixed_with_approval_verified_and_resolved(
    driver: str,
    store: Store,
    redis_url: str,
    sandbox: Any,
    monitoring: tuple[Server, Server, int],
    feishu_gateway: FeishuEmulator,
    dingtalk_gateway: DingTalkEmulator,
    serve_bot: Serve,
    tmp_path: Path,
) -> None:
    prom, am, bot_port = monitoring
    chats: dict[str, Chat] = {"feishu": FeishuChat(feishu_gateway), "dingtalk": DingTalkChat(dingtalk_gateway)}
    chat, other = chats[driver], chats["dingtalk" if driver == "feishu" else "feishu"]
    settings: Settings = platform_settings(
        dingtalk=dingtalk_gateway,
        feishu=feishu_gateway,
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        redis_url=redis_url,
        key_prefix=f"kdtest-{uuid.uuid4().hex[:10]}",
        llm_api_key=None,
        action_secret="alerts-e2e-secret",
        policy_files=[str(POLICY)],
        audit_log_path=str(tmp_path / "audit.jsonl"),
        alerts_port=bot_port,
        alerts_host="127.0.0.1",
        alerts_token=TOKEN,
        alert_chats=[f"feishu:{FeishuChat.group}", f"dingtalk:{DingTalkChat.group}"],
        alert_card_budget=40,  # the demo cluster fires a dozen groups at once; the storm test covers the budget
        prometheus_url=prom.url,
        alertmanager_url=am.url,
    )
    await serve_bot(settings, lambda s: build_bot(s, store=store))
    await chat.wait_connected()
    await other.wait_connected()

    # 1. Prometheus fires KubePodOOMKilled for the OOM-killed orders pods: one card in each platform's group
    alert = await eventually(
        lambda: view_titled(chat, "[P1] 告警：KubePodOOMKilled"), "the alert card", state=prom.logs
    )
    mirror = await eventually(
        lambda: view_titled(other, "[P1] 告警：KubePodOOMKilled"),
        "the other platform's card",
        state=lambda: [v.text[:80] for v in other.views()] + other.notices(),
    )
    assert "production/orders" in alert.text and alert.chat == chat.group and mirror.chat == other.group
    assert {"认领", "诊断", "静默 1 小时"} <= set(alert.labels)
    await asyncio.sleep(5)  # Alertmanager's group updates arrive meanwhile: they update, never repost
    for c in (chat, other):
        assert len([v for v in c.views() if "KubePodOOMKilled" in title(v)]) == 1

    # 1b. `/metrics` answers from Prometheus with text sparklines; a name that is not one gets a friendly answer
    seen = len(chat.views())
    await chat.say("/metrics orders -n production")
    panel = await eventually(lambda: view_titled(chat, "指标：production/orders", after=seen), "the /metrics card")
    assert "内存（MiB）" in panel.text and re.search("[▁▂▃▄▅▆▇█]", panel.text) and "查询失败" not in panel.text
    assert shows_chart_image(chat, panel), "the /metrics chart arrives as an uploaded image"
    seen = len(chat.views())
    await chat.say('/metrics orders"}) or vector(1')
    await eventually(lambda: view_titled(chat, "名称不对", after=seen), "the friendly refusal of a bad name")

    # 2. Alice claims it: the card shows her, on both platforms
    await chat.click(alert, "认领", user="alice")
    await eventually(lambda: current(chat, alert.ref) if "已认领" in current(chat, alert.ref).text else None, "claim")
    assert "认领" not in current(chat, alert.ref).labels
    await eventually(
        lambda: current(other, mirror.ref) if "alice" in current(other, mirror.ref).text else None, "mirror"
    )

    # 3. Diagnose: Prometheus metrics rank the memory limit first and propose the OOM runbook
    seen = len(chat.views())
    await chat.click(current(chat, alert.ref), "诊断", user="alice")
    diag = await eventually(lambda: view_titled(chat, "诊断", after=seen), "the diagnosis card")
    assert "内存上限过低" in diag.text and "OOMKilled" in diag.text and "97%" in diag.text
    button = next(label for label in diag.labels if "调高内存上限" in label)

    # 4. the runbook's step goes through the gate: policy, server-side dry-run preview, approval needed
    seen = len(chat.views())
    await chat.click(diag, button, user="alice")
    preview = await eventually(
        lambda: view_titled(chat, "确认改动", "512Mi", after=seen),
        "the runbook's confirmation card with its dry-run preview",
        state=lambda: [v.text for v in chat.views()[seen:]],
    )
    assert "256Mi" in preview.text and "批准并执行" in chat.seen_by(preview, "bob").labels

    # 5. Alice cannot approve her own change (on DingTalk she is not even shown the button; a click crafted from
    # Bob's view is refused by the gate); Bob does, and exactly that call runs
    if chat.platform == "dingtalk":
        assert "批准并执行" not in chat.seen_by(preview, "alice").labels
    await chat.click(chat.seen_by(preview, "bob"), "批准并执行", user="alice")
    await asyncio.sleep(1)
    assert "已执行" not in current(chat, preview.ref).text
    await chat.click(chat.seen_by(current(chat, preview.ref), "bob"), "批准并执行", user="bob")
    await eventually(
        lambda: preview if "已执行" in current(chat, preview.ref).text else None,
        "the change executed after Bob's approval",
        state=lambda: current(chat, preview.ref).text,
    )
    kubectl = await asyncio.create_subprocess_exec(
        "kubectl",
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        "-n",
        "production",
        "get",
        "deployment/orders",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].resources.limits.memory}",
        stdout=asyncio.subprocess.PIPE,
    )
    limits = (await asyncio.wait_for(kubectl.communicate(), 60))[0].decode()
    assert limits == "512Mi"

    # 6. the runbook's PromQL verifies the fix, Alertmanager resolves: the same card becomes the incident report
    report = await eventually(
        lambda: (
            current(chat, alert.ref)
            if "已恢复" in title(current(chat, alert.ref)) and "修复已验证" in current(chat, alert.ref).text
            else None
        ),
        "the card verified and resolved in place",
        within=240,
        state=lambda: current(chat, alert.ref).text,
    )
    text = report.text
    assert "事件报告" in text and "MTTA" in text and "MTTR" in text
    assert "内存上限过低" in text, "the cause from the diagnosis"
    assert "调高内存上限" in text and "bob" in text, "the action and who approved it"
    for step in ("告警触发", "已认领", "已诊断", "建议执行预案", "预案已执行", "修复已验证", "已恢复"):
        assert step in text, step
    assert not report.labels, "a resolved card has no buttons left"
    await eventually(lambda: mirror if "已恢复" in title(current(other, mirror.ref)) else None, "resolved there too")
    for c in (chat, other):
        assert len([v for v in c.views() if "[P1]" in title(v) and "KubePodOOMKilled" in title(v)]) == 1
