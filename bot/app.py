"""Composition root: builds everything from settings. Nothing imports this module.

`build_bot` wires store, tools, gate, planner and the conversation engine behind one dispatcher; the `run_*`
functions are what `kubeduty demo|chat|run` call. Teammates' modules are imported lazily so each part can be
replaced in tests (every dependency is a keyword argument).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.agent.port import Planner
from bot.approvals.port import Gate, ReadOnlyGate
from bot.conversation import Engine
from bot.conversation.toolbox import Gateway, Toolbox
from bot.core.actions import ActionCodec
from bot.core.dispatcher import Dispatcher
from bot.core.tasks import TaskTracker
from bot.settings import Settings, load_settings
from bot.store import Store, open_store

log = logging.getLogger(__name__)


@dataclass
class Bot:
    settings: Settings
    store: Store
    gateway: Gateway
    gate: Gate
    planner: Planner | None
    codec: ActionCodec
    toolbox: Toolbox
    handler: Engine
    dispatcher: Dispatcher
    tracker: TaskTracker
    _closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    async def start(self) -> None:
        """Load the tool listings (a failing source is reported, the others still load)."""
        refresh = getattr(self.gateway, "refresh", None)
        if refresh is not None:
            await refresh()

    async def close(self) -> None:
        await self.dispatcher.drain()
        await self.tracker.close()
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:  # shutdown continues whatever one part says
                log.exception("error while closing")


def _default_gateway(settings: Settings, tracker: TaskTracker, closers: list[Callable[[], Awaitable[Any]]]) -> Gateway:
    """Every tool comes over MCP: our catalogue through an in-process MCP server, then the external servers of
    `settings.mcp_config`. One path for built-in and external tools; a server that is down blocks nobody."""
    from bot.tooling.gateway import ToolGateway
    from bot.tooling.mcp_config import build_sources
    from bot.tooling.mcp_source import McpSource
    from tools.k8s.client import KubeClients

    kube = KubeClients(
        kubeconfig=settings.kubeconfig, context=settings.kube_context, timeout_seconds=settings.kube_timeout_seconds
    )
    closers.append(kube.close)
    sources = build_sources(settings, kube, tasks=tracker)
    gateway = ToolGateway(sources)

    def on_tools_changed(_source: McpSource) -> None:
        tracker.spawn(gateway.refresh(), name="tools-refresh")

    for source in sources:
        if isinstance(source, McpSource):
            closers.append(source.aclose)
            # a server announced a new tool list: re-read every listing (cheap, and keeps names consistent)
            source.add_listener(on_tools_changed)
    return gateway


def _default_gate(
    settings: Settings, store: Store, gateway: Gateway, codec: ActionCodec, clock: Callable[[], float]
) -> Gate:
    try:
        from bot.approvals import build_gate
    except ImportError:  # the safety layer is not installed: reads only
        log.warning("bot.approvals unavailable; running read-only")
        return ReadOnlyGate()
    # a bad policy file raises here on purpose: start-up stops with file, line and reason
    gate: Gate = build_gate(settings=settings, store=store, gateway=gateway, codec=codec, clock=clock)  # type: ignore[arg-type]
    return gate


def _default_planner(settings: Settings) -> Planner | None:
    if not settings.llm_enabled:
        return None  # without an LLM the rule parser answers; the planner is never called
    from bot.agent.planner import OpenAIPlanner

    planner: Planner = OpenAIPlanner(settings)
    return planner


def build_bot(
    settings: Settings,
    *,
    store: Store | None = None,
    gateway: Gateway | None = None,
    gate: Gate | None = None,
    planner: Planner | None = None,
    clock: Callable[[], float] = time.time,
    progress_after: float = 1.0,
) -> Bot:
    closers: list[Callable[[], Awaitable[Any]]] = []
    tracker = TaskTracker()
    if store is None:
        store = open_store(settings.redis_url, prefix=settings.key_prefix)
        closers.append(store.close)
    codec = ActionCodec(settings.action_secret.get_secret_value(), settings.action_ttl_seconds, clock)
    if gateway is None:
        gateway = _default_gateway(settings, tracker, closers)
    if gate is None:
        gate = _default_gate(settings, store, gateway, codec, clock)
    if planner is None:
        planner = _default_planner(settings)
        aclose = getattr(planner, "aclose", None)
        if aclose is not None:
            closers.append(aclose)
    select = None
    if planner is not None:
        from bot.agent.selection import select_tools

        select = select_tools
    toolbox = Toolbox(gateway=gateway, gate=gate, store=store)
    engine = Engine(
        store=store,
        toolbox=toolbox,
        gate=gate,
        codec=codec,
        planner=planner,
        state_ttl=settings.state_ttl_seconds,
        tracker=tracker,
        progress_after=progress_after,
        select_tools=select,
    )
    dispatcher = Dispatcher(store=store, handler=engine, tracker=tracker)
    return Bot(
        settings=settings,
        store=store,
        gateway=gateway,
        gate=gate,
        planner=planner,
        codec=codec,
        toolbox=toolbox,
        handler=engine,
        dispatcher=dispatcher,
        tracker=tracker,
        _closers=closers,
    )


def _logging(settings: Settings, *, quiet: bool) -> None:
    # the console owns stdout; logs go to stderr, and only warnings while chatting
    level = logging.WARNING if quiet else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


async def _console(settings: Settings) -> int:
    from bot.channels.console import run_console_channel

    # piped output is read afterwards, not watched: a "working on it" card there is only noise
    bot = build_bot(settings, progress_after=1.0 if sys.stdin.isatty() else 0)
    try:
        await bot.start()
        return await run_console_channel(bot)
    finally:
        await bot.close()


def _run(settings: Settings) -> int:
    try:
        return asyncio.run(_console(settings))
    except KeyboardInterrupt:  # Ctrl-C in the terminal: leave quietly
        return 130


def run_console() -> int:
    """`kubeduty chat`: the console against the current kubeconfig."""
    settings = load_settings()
    _logging(settings, quiet=True)
    return _run(settings)


def run_demo() -> int:
    """`kubeduty demo`: two sandbox clusters in threads (`sandbox`, the current one, and `sandbox-staging`, so
    cluster listing and `/use cluster` have something to show), the in-process store, the console. No
    credentials, no Redis, no LLM key needed."""
    import tempfile
    from pathlib import Path

    import yaml

    from tools.sandbox import multi_kubeconfig, start_sandbox_thread

    settings = load_settings()
    _logging(settings, quiet=True)
    clusters = {"sandbox": start_sandbox_thread(), "sandbox-staging": start_sandbox_thread()}
    try:
        with tempfile.TemporaryDirectory(prefix="kubeduty-demo-") as tmp:
            path = Path(tmp) / "kubeconfig"
            urls = {name: handle.url for name, handle in clusters.items()}
            path.write_text(yaml.safe_dump(multi_kubeconfig(urls, current="sandbox"), sort_keys=False))
            demo = settings.model_copy(update={"kubeconfig": str(path), "kube_context": "sandbox", "redis_url": None})
            return _run(demo)
    finally:
        for handle in clusters.values():
            handle.stop()


def run_platforms() -> int:
    """`kubeduty run`: every IM platform with credentials configured."""
    settings = load_settings()
    _logging(settings, quiet=False)
    from bot.channels.runner import run

    return run(settings, build_bot)
