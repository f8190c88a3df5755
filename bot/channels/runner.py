"""`kubeduty run`: connect to every platform that has credentials, serve until SIGINT/SIGTERM.

Only outbound connections (DingTalk Stream, Feishu long connection); with HEALTH_PORT set, `/healthz`, `/readyz`
and `/metrics` are served (bot.ops.health) from the first moment of the process.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot.channels.common import Adapter, BotLike
from bot.ops import metrics
from bot.ops.health import READY_CHECK_TIMEOUT, HealthServer, ReadyCheck
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
                ai_card_template_id=settings.dingtalk_ai_card_template_id,
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


def _store_of(bot: Any) -> Any:
    return getattr(bot, "store", None) or getattr(getattr(bot, "dispatcher", None), "_store", None)


def readiness_check(adapters: list[Adapter], bot: Any, sources: Sequence[object] = ()) -> ReadyCheck:
    """Ready = Redis answers and at least one platform is connected (one platform down still serves the other)."""
    store = _store_of(bot)

    async def check() -> dict[str, Any]:
        report = health_report(adapters, sources)
        for name, snap in report["platforms"].items():
            metrics.platform_connected.labels(platform=name).set(1 if snap["connected"] else 0)
        redis_ok = True
        if store is not None:
            try:
                redis_ok = bool(await asyncio.wait_for(store.ping(), READY_CHECK_TIMEOUT / 2))
            except TimeoutError:
                redis_ok = False
            if not redis_ok:
                metrics.redis_errors.labels(operation="ping").inc()
        connected = [name for name, snap in report["platforms"].items() if snap["connected"]]
        report["redis"] = {"ok": redis_ok}
        report["ok"] = redis_ok and bool(connected)
        if not report["ok"]:
            report["reason"] = "redis is not answering" if not redis_ok else "no platform is connected"
        return report

    return check


async def _start_adapter(adapter: Adapter, started: list[Adapter]) -> None:
    await adapter.start()
    started.append(adapter)
    log.info("%s: started", adapter.health.platform)


async def _drain(bot: Any, grace: float) -> None:
    """Let in-flight turns finish (their replies need the adapters' API clients, so this runs first)."""
    drain = getattr(getattr(bot, "dispatcher", None), "drain", None)
    if drain is None or grace <= 0:
        return
    try:
        await asyncio.wait_for(drain(), grace)
    except TimeoutError:
        log.warning("shutdown: turns still running after %.0fs; closing anyway", grace)


async def serve(settings: Settings, build_bot: BuildBot, stop: asyncio.Event | None = None) -> int:
    """Run until `stop` is set (or a signal arrives). Returns the process exit code.

    The probe server starts first, so `/healthz` answers while the bot loads its tools and the platforms
    connect; platforms start side by side, so one that is down does not hold up the other."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests) or not POSIX
            pass
    probes = HealthServer(settings.health_port) if settings.health_port else None
    if probes is not None:
        await probes.start()
    bot: Any = None
    started: list[Adapter] = []
    try:
        bot = build_bot(settings)
        if inspect.isawaitable(bot):
            bot = await bot
        await bot.start()
        adapters = build_adapters(settings, bot)
        attach = getattr(bot, "attach_channels", None)
        if attach is not None:  # e.g. the alert receiver (bot.alerts) posts into these platforms' chats
            await attach(adapters)
        if probes is not None:
            sources = list(getattr(getattr(bot, "gateway", None), "sources", None) or [])
            probes.set_ready_check(readiness_check(adapters, bot, sources))
            probes.set_phase("serving")
        starting: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(_start_adapter(a, started) for a in adapters))
        )
        stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if starting in done:
                starting.result()  # a platform that cannot start at all ends the run with its reason
                await stopping
        finally:
            for future in (starting, stopping):
                future.cancel()
            await asyncio.gather(starting, stopping, return_exceptions=True)
        return 0
    finally:
        if probes is not None:
            probes.set_phase("stopping")  # readiness drops at once: no new traffic is routed here
        if bot is not None and started:
            await _drain(bot, settings.shutdown_grace_seconds)
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:  # keep shutting the rest down
                log.exception("%s: stop failed", adapter.health.platform)
        if bot is not None:
            await bot.close()
        if probes is not None:
            await probes.close()


def _configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    # logs on stderr; stdout carries only audit JSON lines (AUDIT_STDOUT), so a log shipper can tell them apart
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def lazy_builder(module: str) -> BuildBot:
    """A `build_bot` that imports the composition root (`module`, and the modules it names in `WARM_MODULES`) in
    a worker thread: importing the whole bot takes seconds, and the probe server must answer meanwhile."""

    async def build(settings: Settings) -> Any:
        root = await asyncio.to_thread(importlib.import_module, module)
        for name in getattr(root, "WARM_MODULES", ()):
            await asyncio.to_thread(importlib.import_module, name)
        bot = root.build_bot(settings)
        bot.tune_gc = True  # the process's own bot: once started, freeze start-up objects, collect less often
        return bot

    return build


def run_production(root_module: str = "bot.app") -> int:
    """`kubeduty run`: refuse unsafe settings (naming them), then serve. Imports stay light until the probe
    server is up; `root_module` (the composition root, above this layer) is imported by name afterwards."""
    from bot.ops.preflight import check_production
    from bot.settings import load_settings

    settings = load_settings()
    _configure_logging(settings)
    preflight = check_production(settings)
    for warning in preflight.warnings:
        log.warning("%s", warning)
    if preflight.errors:
        for error in preflight.errors:
            print(f"kubeduty run: refusing to start: {error}", file=sys.stderr)
        return 2
    return run(settings, lazy_builder(root_module))


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
