"""`kubeduty run`: connect to every platform that has credentials, serve until SIGINT/SIGTERM.

Only outbound connections (DingTalk Stream, Feishu long connection); the optional `/healthz` listens locally.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot.channels.common import Adapter, BotLike
from bot.settings import Settings

log = logging.getLogger(__name__)

NO_CREDENTIALS = """\
No chat platform is configured, so there is nothing to connect to.
Set the credentials of at least one platform (environment or .env):
  DingTalk (Stream mode): DINGTALK_CLIENT_ID, DINGTALK_CLIENT_SECRET
  Feishu / Lark (long connection): FEISHU_APP_ID, FEISHU_APP_SECRET (FEISHU_DOMAIN=https://open.larksuite.com for Lark)
To try the bot without a chat platform: `kubeduty demo` (sandbox cluster) or `kubeduty chat`.
未配置任何聊天平台：请至少设置钉钉或飞书的应用凭证（见上）；不接入平台试用请运行 `kubeduty demo`。"""

BuildBot = Callable[[Settings], Any]  # returns a bot (or an awaitable of one)


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def configured_platforms(settings: Settings) -> list[str]:
    names = []
    if settings.dingtalk_client_id and _secret(settings.dingtalk_client_secret):
        names.append("dingtalk")
    if settings.feishu_app_id and _secret(settings.feishu_app_secret):
        names.append("feishu")
    return names


def build_adapters(settings: Settings, bot: BotLike) -> list[Adapter]:
    adapters: list[Adapter] = []
    names = configured_platforms(settings)
    if "dingtalk" in names:
        from bot.channels.dingtalk import DingTalkAdapter

        adapters.append(
            DingTalkAdapter(
                client_id=str(settings.dingtalk_client_id),
                client_secret=_secret(settings.dingtalk_client_secret),
                endpoint=settings.dingtalk_openapi_endpoint,
                bot=bot,
                card_template_id=settings.dingtalk_card_template_id,
            )
        )
    if "feishu" in names:
        from bot.channels.feishu import FeishuAdapter

        adapters.append(
            FeishuAdapter(
                app_id=str(settings.feishu_app_id),
                app_secret=_secret(settings.feishu_app_secret),
                domain=settings.feishu_domain,
                bot=bot,
            )
        )
    return adapters


def health_report(adapters: list[Adapter], sources: Sequence[object] = ()) -> dict[str, Any]:
    """Platforms decide `ok` (a restart can fix a lost connection); the tool sources are reported beside them
    but never fail the probe: restarting the bot does not bring an external MCP server back."""
    from bot.tooling.mcp_source import source_statuses

    platforms = {a.health.platform: a.health.snapshot() for a in adapters}
    tools = {
        st.name: {"up": st.healthy, "state": st.state, "tools": st.tools, "error": st.error, "failures": st.failures}
        for st in source_statuses(sources)
    }
    return {
        "ok": bool(platforms) and all(p["connected"] for p in platforms.values()),
        "platforms": platforms,
        "tool_sources": tools,
    }


async def _serve_health(adapters: list[Adapter], port: int, sources: Sequence[object] = ()) -> Any:
    from aiohttp import web

    async def healthz(_request: web.Request) -> web.Response:
        report = health_report(adapters, sources)
        return web.json_response(report, status=200 if report["ok"] else 503, dumps=json.dumps)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Bound to all interfaces on purpose: a Kubernetes probe reaches the pod IP. It serves only this status.
    await web.TCPSite(runner, "0.0.0.0", port).start()
    log.info("health status on :%d/healthz", port)
    return runner


async def serve(settings: Settings, build_bot: BuildBot, stop: asyncio.Event | None = None) -> int:
    """Run until `stop` is set (or a signal arrives). Returns the process exit code."""
    stop = stop or asyncio.Event()
    bot = build_bot(settings)
    if inspect.isawaitable(bot):
        bot = await bot
    await bot.start()
    adapters = build_adapters(settings, bot)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests) or not POSIX
            pass
    health_runner = None
    started: list[Adapter] = []
    try:
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
            log.info("%s: started", adapter.health.platform)
        if settings.health_port:
            sources = list(getattr(getattr(bot, "gateway", None), "sources", None) or [])
            health_runner = await _serve_health(adapters, settings.health_port, sources)
        await stop.wait()
        return 0
    finally:
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:  # keep shutting the rest down
                log.exception("%s: stop failed", adapter.health.platform)
        if health_runner is not None:
            await health_runner.cleanup()
        await bot.close()


def run(settings: Settings, build_bot: BuildBot) -> int:
    """Entry point of `kubeduty run` (via `bot.app.run_platforms`)."""
    if not configured_platforms(settings):
        print(NO_CREDENTIALS, file=sys.stderr)
        return 2
    try:
        return asyncio.run(serve(settings, build_bot))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # start-up problems (policy file, Redis, kubeconfig) end in one clear line
        log.debug("start-up failed", exc_info=True)
        print(f"kubeduty run: could not start: {exc}", file=sys.stderr)
        return 1
