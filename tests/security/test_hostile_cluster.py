"""End to end: a hostile Deployment (image, annotation) and Event in the sandbox cluster, read through the real
bot and the real IM SDKs on both emulated platforms with /deploys, /health and /describe: the cluster's text
reaches the chat as text, never as a mention, a link, a font tag or a closed code block."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.store import Store
from tests.channels.conftest import Serve
from tests.channels.emulators.dingtalk import DingTalkEmulator, SentCard
from tests.channels.emulators.feishu import FeishuEmulator, FeishuMessage
from tests.channels.test_scenarios_real_bot import builder, real_bot_settings
from tests.security.hostile import EVENT, IMAGE, dingtalk_markdown, feishu_markdown, live_markup

ANNOTATION = "<font color='red'>URGENT</font> [Approve](https://evil.example/a)\n```\n# pwned"
COMMANDS = ("/deploys dev", "/health evil-app -n dev", "/describe {pod} -n dev")


def plant(sandbox: Any) -> str:
    """The hostile Deployment and a Warning Event on its pod; returns the pod's name."""
    labels = {"app": "evil-app"}
    sandbox.cluster.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "evil-app", "namespace": "dev", "annotations": {"note": ANNOTATION}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    # imagepull: the image name also lands in the kubelet's events and the health findings
                    "metadata": {
                        "labels": labels,
                        "annotations": {"note": ANNOTATION, "sandbox.kubeduty.io/behaviour": "imagepull"},
                    },
                    "spec": {"containers": [{"name": "app", "image": IMAGE}]},
                },
            },
        }
    )
    deadline = time.monotonic() + 30
    while True:
        pods = [p for p in sandbox.cluster.list_objects("Pod", "dev") if p["metadata"]["name"].startswith("evil-app")]
        if pods:
            break
        assert time.monotonic() < deadline, "the sandbox controller never created the evil-app pod"
        time.sleep(0.1)
    pod = str(pods[0]["metadata"]["name"])
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sandbox.cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{pod}.hostile", "namespace": "dev"},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": "dev", "apiVersion": "v1"},
            "reason": "BackOff",
            "message": EVENT,
            "type": "Warning",
            "count": 3,
            "firstTimestamp": now,
            "lastTimestamp": now,
        }
    )
    return pod


async def eventually(find: Callable[[], Any], what: str, within: float = 120.0) -> Any:
    deadline = time.monotonic() + within
    while (found := find()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return found


async def test_hostile_cluster_text_reaches_feishu_as_text_only(
    store: Store, redis_url: str, sandbox: Any, feishu_gateway: FeishuEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    pod = plant(sandbox)
    gw = feishu_gateway
    await serve_bot(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", feishu=gw), builder(store))
    await gw.wait_connected()
    for i, command in enumerate(COMMANDS):
        seen = len(gw.sent())
        await gw.say(command.format(pod=pod), message_id=f"om_in_hostile_{i}")

        def answer(seen: int = seen) -> FeishuMessage | None:
            return next((m for m in gw.sent()[seen:] if "Approve" in m.text), None)

        msg = await eventually(answer, f"the answer to {command} showing the planted text")
        problems = [p for t in feishu_markdown(msg.content) for p in live_markup(t, "feishu")]
        assert problems == [], (command, problems)


async def test_hostile_cluster_text_reaches_dingtalk_as_text_only(
    store: Store, redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve, tmp_path: Path
) -> None:
    pod = plant(sandbox)
    gw = dingtalk_gateway
    await serve_bot(real_bot_settings(sandbox, redis_url, tmp_path / "audit.jsonl", dingtalk=gw), builder(store))
    await gw.wait_connected()
    for i, command in enumerate(COMMANDS):
        seen = len(gw.sent_cards())
        await gw.say(command.format(pod=pod), msg_id=f"msg-hostile-{i}")

        def answer(seen: int = seen) -> SentCard | None:
            return next((c for c in gw.sent_cards()[seen:] if "Approve" in c.text), None)

        card = await eventually(answer, f"the answer to {command} showing the planted text")
        texts = dingtalk_markdown(card.data)
        problems = [p for t in texts for p in live_markup(t, "dingtalk")]
        assert problems == [], (command, problems)
        assert any("\\[Approve" in t for t in texts), command  # the planted text is there, escaped
