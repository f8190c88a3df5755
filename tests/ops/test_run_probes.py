"""A real `kubeduty run`: `/healthz` answers from the start and never depends on the platforms; `/readyz` is
ready only with Redis answering and at least one platform connected; `/metrics` counts what happened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.ops.process import base_env, dingtalk_env, feishu_down_env, free_port, kubeduty_run, stalled_server


def _env(redis_url: str, sandbox: Any, **extra: str) -> dict[str, str]:
    return base_env(REDIS_URL=redis_url, KUBECONFIG=str(sandbox.kubeconfig_path), KUBE_CONTEXT="sandbox", **extra)


async def test_with_the_only_platform_down_the_bot_is_live_at_once_but_not_ready(
    redis_url: str, sandbox: Any, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there: DingTalk's gateway is down
    env = _env(
        redis_url,
        sandbox,
        DINGTALK_CLIENT_ID="ding-id",
        DINGTALK_CLIENT_SECRET="ding-secret",
        DINGTALK_OPENAPI_ENDPOINT=down,
    )
    async with kubeduty_run(env, tmp_path / "run.log") as bot:
        status, body = await bot.wait_answer("/healthz")
        assert status == 200 and body["live"] is True
        status, ready = await bot.get("/readyz")
        assert status == 503 and ready["ok"] is False
        # once the readiness check runs, it names what is missing
        ready = await bot.wait_until("/readyz", lambda _s, b: "redis" in b)
        assert ready["ok"] is False and ready["reason"] == "no platform is connected"
        assert ready["redis"]["ok"] is True and ready["platforms"]["dingtalk"]["connected"] is False
        assert (await bot.get("/healthz"))[0] == 200
        status, text = await bot.get("/metrics")
        assert status == 200 and "kubeduty_ready 0.0" in text
    assert await bot.stop() == 0, bot.output()[-3000:]


async def test_one_platform_connected_makes_the_bot_ready_and_it_answers_while_the_other_is_down(
    redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, tmp_path: Path
) -> None:
    with stalled_server() as feishu_down:
        env = _env(redis_url, sandbox, **dingtalk_env(dingtalk_gateway), **feishu_down_env(feishu_down.url))
        async with kubeduty_run(env, tmp_path / "run.log") as bot:
            assert (await bot.wait_answer("/healthz"))[0] == 200
            ready = await bot.wait_status("/readyz", 200)
            assert ready["redis"]["ok"] is True and ready["platforms"]["dingtalk"]["connected"] is True
            assert ready["platforms"]["feishu"]["connected"] is False  # Feishu still down: ready anyway
            await dingtalk_gateway.say("/help")
            (card,) = await dingtalk_gateway.wait_cards(1, within=60)
            assert card.title
            status, text = await bot.get("/metrics")
            assert status == 200
            assert 'kubeduty_events_total{outcome="ok",platform="dingtalk"}' in text
            assert 'kubeduty_turn_seconds_count{platform="dingtalk"}' in text
            assert 'kubeduty_platform_connected{platform="dingtalk"} 1.0' in text
            assert 'kubeduty_platform_connected{platform="feishu"} 0.0' in text
            feishu_down.close()  # lets the SDK's hung call end, so the stop below is not held up by it
        assert await bot.stop() == 0, bot.output()[-3000:]


async def test_with_redis_unreachable_the_bot_stays_live_and_says_why_it_is_not_ready(
    sandbox: Any, dingtalk_gateway: DingTalkEmulator, tmp_path: Path
) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    env = _env(nothing_there, sandbox, **dingtalk_env(dingtalk_gateway))
    async with kubeduty_run(env, tmp_path / "run.log") as bot:
        assert (await bot.wait_answer("/healthz"))[0] == 200
        await dingtalk_gateway.wait_connected(within=90)
        ready = await bot.wait_until("/readyz", lambda _s, b: "redis" in b)
        assert ready["ok"] is False and ready["redis"]["ok"] is False and "redis" in ready["reason"]
        assert ready["platforms"]["dingtalk"]["connected"] is True
        assert (await bot.get("/healthz"))[0] == 200
    assert await bot.stop() == 0, bot.output()[-3000:]
