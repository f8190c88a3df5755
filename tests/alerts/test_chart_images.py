"""Chart images through the real adapters and SDKs: a card's `Chart` block is drawn as PNG, uploaded (Feishu
`im/v1/images`, DingTalk media upload on the configured endpoint) and shown in the card; a failed upload gives the
sparklines and no error. Plus the pure parts: the PNG itself, the console's text, and mentions made from
validated ids only."""

from __future__ import annotations

import asyncio
import re
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

from bot.alerts.charts import chart_of, render_chart
from bot.core.actions import ActionCodec
from bot.core.dispatcher import Dispatcher
from bot.core.events import InboundEvent, MessageEvent
from bot.core.i18n import Lang
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render.dingtalk import render_dingtalk_card
from bot.render.feishu import render_feishu
from bot.render.mentions import dingtalk_at_users, feishu_at_markup
from bot.render.model import Card, Chart, Code, Mention
from bot.render.text import render_card
from bot.store import Store
from tests.channels.conftest import EchoBot, Serve, platform_settings
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator
from tests.channels.emulators.feishu_extra import images

T = TypeVar("T")
SERIES = (
    ("CPU（核）", tuple(0.1 + 0.02 * (i % 7) for i in range(24)), ""),
    ("内存（MiB）", tuple(200.0 + 9 * i for i in range(24)), ""),
    ("重启次数", tuple(float(i // 6) for i in range(24)), ""),
)
SPARK = re.compile("[▁▂▃▄▅▆▇█]")


async def eventually(find: Callable[[], T | None], what: str, within: float = 30.0) -> T:
    deadline = time.monotonic() + within
    while True:
        found = find()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def chart_bot(store: Store) -> EchoBot:
    """Answers every message with a metrics-like card: a chart of the series ("alone"), or with its text too."""
    seen: list[InboundEvent] = []

    async def handler(event: InboundEvent, responder: Responder) -> None:
        seen.append(event)
        if isinstance(event, MessageEvent):
            alone = event.text.strip() == "alone"  # else the card carries the series as text too
            chart = chart_of(SERIES, has_text=not alone)
            blocks = (chart,) if alone else (chart, Code("CPU ▁▂▃ 0.12"))
            await responder.send(Card(title="指标：production/orders", blocks=blocks, meta={"lang": "zh"}))

    tracker = TaskTracker()
    codec = ActionCodec("chart-test-secret", ttl_seconds=600)
    return EchoBot(Dispatcher(store=store, handler=handler, tracker=tracker), codec, tracker, seen, store)


async def test_a_chart_arrives_as_an_uploaded_png_image_on_feishu_and_dingtalk_and_is_uploaded_once(
    store: Store, feishu_gateway: FeishuEmulator, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    fs, dt = feishu_gateway, dingtalk_gateway
    await serve_bot(platform_settings(feishu=fs, dingtalk=dt), chart_bot(store))
    await fs.wait_connected()
    await dt.wait_connected()
    for n in (1, 2):  # the same picture twice: uploaded once, shown twice
        await fs.say("alone", message_id=f"om_chart_{n}")
        await dt.say("alone", msg_id=f"msg-chart-{n}")
        await eventually(lambda n=n: fs.sent()[n - 1] if len(fs.sent()) >= n else None, "the Feishu card")  # type: ignore[misc]
        await eventually(lambda n=n: dt.sent_cards()[n - 1] if len(dt.sent_cards()) >= n else None, "the card")  # type: ignore[misc]

    for msg in fs.sent():
        keys = images(msg)
        assert len(keys) == 1 and keys[0] in fs.extra.images, "an img element showing the uploaded image"
        assert "🔵 CPU（核）：当前" in msg.text and "🟠 内存（MiB）" in msg.text, "each panel named in the text"
    png = next(iter(fs.extra.images.values()))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 64 * 1024
    assert len(fs.extra.images) == 1

    for card in dt.sent_cards():
        media = re.findall(r"!\[chart\]\((@[^)]+)\)", card.data["markdown"])
        assert len(media) == 1 and media[0] in dt.extra.media, "the markdown shows the uploaded media id"
    assert len(dt.extra.media) == 1
    upload = dt.calls_to("POST", "/media/upload")[0]
    assert upload.query.get("access_token") == dt.token, "the old-API route, on the configured endpoint"
    assert not fs.extra.refused and not dt.extra.refused


async def test_a_failed_chart_upload_falls_back_to_sparklines_with_no_error_shown(
    store: Store, feishu_gateway: FeishuEmulator, dingtalk_gateway: DingTalkEmulator, serve_bot: Serve
) -> None:
    fs, dt = feishu_gateway, dingtalk_gateway
    fs.extra.fail_uploads = dt.extra.fail_uploads = True
    await serve_bot(platform_settings(feishu=fs, dingtalk=dt), chart_bot(store))
    await fs.wait_connected()
    await dt.wait_connected()
    await fs.say("alone")
    await dt.say("alone")
    msg = await eventually(lambda: fs.sent()[0] if fs.sent() else None, "the Feishu card")
    card = await eventually(lambda: dt.sent_cards()[0] if dt.sent_cards() else None, "the DingTalk card")
    assert fs.calls_to("POST", "/open-apis/im/v1/images") and dt.calls_to("POST", "/media/upload"), "it tried"
    for text in (msg.text, card.text):
        assert SPARK.search(text) and "CPU（核）" in text
        assert not re.search("失败|错误|error|upload", text, re.IGNORECASE), text
    assert images(msg) == [] and "![" not in card.data["markdown"]
    assert [m for m in fs.sent() if m.msg_type == "text"] == [] and dt.texts == [], "no error message either"


def test_a_chart_png_is_a_valid_small_image_with_one_panel_per_series() -> None:
    png = render_chart([*SERIES, ("5xx 错误率（%）", (), ""), ("more", (1.0, 2.0), "")])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, color = struct.unpack(">IIBB", png[16:26])
    assert (width, depth, color) == (560, 8, 3) and height == 4 * 92, "at most four panels"
    idat = png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    assert len(raw) == height * (width + 1)
    assert len(png) < 16 * 1024


def test_the_console_shows_a_chart_as_sparklines_and_a_mention_as_names() -> None:
    card = Card(
        title="t",
        blocks=(
            Mention(people=(("feishu:ou_zhang", "张三"), ("dingtalk:staff-li", "李四")), text="请值班同学处理"),
            Chart("最近 1 小时", SERIES),
        ),
    )
    text = render_card(card)
    assert "@张三 @李四 请值班同学处理" in text
    assert "最近 1 小时" in text and len(SPARK.findall(text)) >= 24 * 3
    everyone = render_card(Card(title="t", blocks=(Mention(everyone=True, text="x"),), meta={"lang": "en"}))
    assert "@all x" in everyone
    # a chart whose card has the same series as text shows nothing more in the console
    assert SPARK.search(render_card(Card(title="t", blocks=(chart_of(SERIES),)))) is None


def test_mentions_are_made_from_validated_ids_only_and_names_stay_text() -> None:
    hostile = Mention(
        people=(
            ("feishu:ou_ok", "<at id=all></at>"),
            ("feishu:ou_x></at><at id=all", "x"),
            ("dingtalk:staff-1", "**bold** <font>"),
            ("dingtalk:@ALL", "all"),
        ),
        text="<at id=all></at> [link](http://x)",
    )
    assert feishu_at_markup(hostile) == "<at id=ou_ok></at>"
    doc: Any = render_feishu(Card(title="t", blocks=(hostile,)), sign=lambda a: "p")
    content = doc["body"]["elements"][0]["content"]
    assert content.startswith("<at id=ou_ok></at> ") and content.count("<at") == 1, content
    assert dingtalk_at_users(Card(title="t", blocks=(hostile,))) == {"staff-1": "**bold** <font>"}
    out = render_dingtalk_card(
        Card(title="t", blocks=(hostile,)), sign=lambda a: "p", conversation_id="cid", is_group=True, lang=Lang.ZH
    )
    assert out.at_users == {"staff-1": "**bold** <font>"}
    assert "<font>" not in out.public["markdown"] and "**bold**" not in out.public["markdown"]
