"""Streamed-card update rates on each platform, measured at the emulators (which refuse anything over the limits):
a producer pushes a growing text every 20 ms (faster than any platform takes), the native stream coalesces.

Run: .venv/bin/python -m tests.bench.bench_streaming [seconds]
Prints, per platform: text updates per second of one card, the busiest second, the smallest gap between two
updates, refusals; then N concurrent Feishu cards sharing the per-app window (50/s, 1,000/min).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from bot.channels.dingtalk.aicard import AICardStream, robot_window
from bot.channels.dingtalk.api import DingTalkApi
from bot.channels.feishu.cardkit import CardKit, CardKitStream
from bot.core.i18n import Lang
from bot.render.model import Card, Markdown
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator

PUSH_EVERY = 0.02


async def produce(stream: Any, seconds: float) -> None:
    text, end = "", time.monotonic() + seconds
    while time.monotonic() < end:
        text += "token "
        await stream.push(text)
        await asyncio.sleep(PUSH_EVERY)
    await stream.close(Card("done", blocks=(Markdown(text[-200:]),)))


def feishu_kit(gw: FeishuEmulator) -> CardKit:
    import lark_oapi as lark

    api = lark.Client.builder().app_id(gw.app_id).app_secret(gw.app_secret).domain(gw.url).build()

    async def call(method: Any, req: Any) -> Any:
        return await asyncio.to_thread(method, req)

    return CardKit(api, call)


def feishu_stream(gw: FeishuEmulator, kit: CardKit, n: int) -> CardKitStream:
    async def send(content: str) -> str | None:
        import json

        from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

        body = CreateMessageRequestBody.builder().receive_id(f"oc_{n}").msg_type("interactive").content(content)
        req = CreateMessageRequest.builder().receive_id_type("chat_id").request_body(body.build()).build()
        resp = await asyncio.to_thread(kit._api.im.v1.message.create, req)
        assert resp.success(), (resp.code, resp.msg, json.loads(content))
        return str(resp.data.message_id)

    def render(card: Card) -> dict[str, Any]:
        from bot.render.feishu import render_feishu

        return render_feishu(card, sign=lambda a: "x", lang=Lang.EN)

    return CardKitStream(kit, title=f"bench {n}", lang=Lang.EN, render=render, send=send)


async def bench_feishu(seconds: float, cards: int) -> None:
    gw = FeishuEmulator(app_id=f"cli_bench_{cards}")  # lark caches tokens per app id, process-wide
    gw.start()
    try:
        kit = feishu_kit(gw)
        started = time.monotonic()
        await asyncio.gather(*(produce(feishu_stream(gw, kit, i), seconds) for i in range(cards)))
        took = time.monotonic() - started
        entities = list(gw.cardkit.cards.values())
        rates = [c.text_rate() for c in entities]
        total = sum(len(c.text_updates) for c in entities)
        print(
            f"feishu x{cards}: per card {min(rates):.2f}-{max(rates):.2f} text updates/s, "
            f"busiest second of a card {max(c.max_in_a_second() for c in entities)} (limit 10), "
            f"app {total / took:.1f} text updates/s (limit 50/s, 1,000/min), "
            f"waited for the app window {kit.window.waited:.1f}s, refused {len(gw.cardkit.refused)}, "
            f"left open {len(gw.cardkit.unclosed())}"
        )
    finally:
        gw.stop()


async def bench_dingtalk(seconds: float) -> None:
    gw = DingTalkEmulator()
    gw.start()
    api = DingTalkApi(base_url=gw.url, client_id=gw.client_id, client_secret=gw.client_secret)
    try:

        def render(card: Card) -> dict[str, str]:
            from bot.render.dingtalk import render_dingtalk

            return render_dingtalk(card, sign=lambda a: "x", conversation_id="cid-1", is_group=True, lang=Lang.EN)

        async def plain(card: Card) -> str | None:
            raise AssertionError("the stream should have opened")

        stream = AICardStream(
            api,
            robot_window(),
            template_id=gw.aicard.template_id,
            title="bench",
            lang=Lang.EN,
            conversation_id="cid-1",
            user_id=None,
            render=render,
            send_plain=plain,
        )
        await produce(stream, seconds)
        ai = next(iter(gw.aicard.streams.values()))
        print(
            f"dingtalk x1: {ai.text_rate():.2f} streaming updates/s of one card ({len(ai.stream_updates)} in "
            f"{seconds:g}s), smallest gap {ai.min_gap():.3f}s (limit 0.8s), status {ai.status}, "
            f"refused {len(gw.refused)}, unfinalised {len(gw.aicard.unfinalized())}"
        )
    finally:
        await api.close()
        gw.stop()


async def main(seconds: float) -> None:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    print(f"push every {PUSH_EVERY * 1000:.0f} ms for {seconds:g}s; figures measured at the emulators")
    await bench_feishu(seconds, 1)
    await bench_dingtalk(seconds)
    await bench_feishu(seconds, 8)
    await bench_feishu(seconds, 20)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 15.0))
