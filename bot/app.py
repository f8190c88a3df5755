"""Composition root: builds everything from settings. Nothing imports this module.

`build_bot` wires store, tools, gate, planner and the conversation engine behind one dispatcher; the `run_*`
functions are what `kubeduty demo|chat|run` call. Teammates' modules are imported lazily so each part can be
replaced in tests (every dependency is a keyword argument).
"""

from __future__ import annotations

import asyncio
import gc
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
from bot.core.ratelimit import Rate, RateLimiter
from bot.core.tasks import TaskTracker
from bot.settings import Settings, load_settings
from bot.store import BadRedisUrl, ClientOptions, Store, open_store

log = logging.getLogger(__name__)

# What `build_bot` imports lazily: `kubeduty run` imports these in a worker thread before building, so the
# event loop (and the probe server on it) keeps answering while they load.
WARM_MODULES = (
    "tools.k8s.client",
    "bot.tooling.gateway",
    "bot.tooling.mcp_config",
    "bot.tooling.mcp_source",
    "bot.approvals",
    "bot.agent.selection",
    "bot.ops.instrument",
)


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
    alerts: Any = None  # bot.alerts.factory.AlertsRuntime when ALERTS_PORT is set
    tune_gc: bool = False  # the process's own bot (not tests'): freeze start-up objects, collect less often

    async def attach_channels(self, adapters: list[Any]) -> None:
        """Called by the runner with the platform adapters: the alert receiver posts into their chats."""
        if self.alerts is not None:
            await self.alerts.attach(adapters)

    async def start(self) -> None:
        """Load the tool listings (a failing source is reported, the others still load; the built-in one also
        loads what the first call needs, in a thread)."""
        refresh = getattr(self.gateway, "refresh", None)
        if refresh is not None:
            await refresh()
        if self.tune_gc:
            tune_gc()

    async def close(self) -> None:
        await self.dispatcher.drain()
        await self.tracker.close()
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:  # shutdown continues whatever one part says
                log.exception("error while closing")


# Generation-0 threshold after start-up. The default (700) runs a young collection every few hundred objects;
# a 2,000-pod listing allocates ~10^5, so it paid dozens of collections and long full ones (p90 of big lists).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Once started: move every start-up object (modules, models, settings) out of the collector's sight, so
    collections scan only what messages allocate, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _default_gateway(
    settings: Settings,
    tracker: TaskTracker,
    closers: list[Callable[[], Awaitable[Any]]],
    kubes: list[Any] | None = None,
) -> Gateway:
    """Our catalogue called directly, then the external MCP servers of `settings.mcp_config` (the MCP library
    is imported only when there is one); a server that is down blocks nobody."""
    from bot.tooling.gateway import ToolGateway
    from bot.tooling.mcp_config import build_sources
    from tools.k8s.client import KubeClients

    kube = KubeClients(
        kubeconfig=settings.kubeconfig, context=settings.kube_context, timeout_seconds=settings.kube_timeout_seconds
    )
    closers.append(kube.close)
    if kubes is not None:
        kubes.append(kube)  # the live log follow streams through the same clients
    sources = build_sources(settings, kube, tasks=tracker)
    gateway = ToolGateway(sources)

    def on_tools_changed(_source: object) -> None:
        tracker.spawn(gateway.refresh(), name="tools-refresh")

    for source in sources:
        add_listener = getattr(source, "add_listener", None)
        if add_listener is not None:  # an MCP server: it has a connection to close and can change its tools
            closers.append(source.aclose)  # type: ignore[attr-defined]
            # a server announced a new tool list: re-read every listing (cheap, and keeps names consistent)
            add_listener(on_tools_changed)
    return gateway


def policy_vocabulary(settings: Settings) -> Any:
    """What policy files may name (`bot.policy.vocabulary.Vocabulary`): the catalogue's tools, and each enabled
    MCP server's declared tools (`read_only_tools`, `exclude_tools`, `tools:`) with their prefix, verbs and
    resources. Raises `bot.tooling.mcp_config.McpConfigError` for an unreadable MCP file."""
    import re

    from bot.policy.vocabulary import DEFAULT
    from tools.catalogue import CATALOGUE

    tools = set(CATALOGUE)
    verbs = {s.verb for s in CATALOGUE.values()}
    resources = {s.resource for s in CATALOGUE.values()}
    prefixes: list[str] = []
    if settings.mcp_config:
        from bot.tooling.mcp_config import load_config

        for server in load_config(settings.mcp_config).servers:
            if not server.enabled:
                continue
            prefix = server.tool_prefix
            prefixes.append(prefix)
            declared = {*server.read_only_tools, *server.exclude_tools, *server.tools}
            # the name the bot gives the tool (mcp_source.tool_info): prefix + remote name, sanitised, <= 64
            tools |= {re.sub(r"[^A-Za-z0-9_-]", "_", prefix + name)[:64] for name in declared}
            verbs |= {o.verb for o in server.tools.values() if o.verb}
            resources |= {o.resource for o in server.tools.values() if o.resource}
    return DEFAULT.merged(tools=tools, verbs=verbs, resources=resources, tool_prefixes=tuple(prefixes))


def _default_gate(
    settings: Settings, store: Store, gateway: Gateway, codec: ActionCodec, clock: Callable[[], float]
) -> Gate:
    try:
        from bot.approvals import build_gate
        from bot.approvals.factory import policy_paths
    except ImportError:  # the safety layer is not installed: reads only
        log.warning("bot.approvals unavailable; running read-only")
        return ReadOnlyGate()
    from bot.policy import load_policy

    # a bad policy file raises here on purpose: start-up stops with file, line and reason; so does a verb,
    # resource or tool name that exists nowhere (fail closed: a typo'd deny rule would deny nothing)
    policy = load_policy(policy_paths(settings), vocabulary=policy_vocabulary(settings))
    gate: Gate = build_gate(settings=settings, store=store, gateway=gateway, codec=codec, clock=clock, policy=policy)  # type: ignore[arg-type]
    return gate


def _default_planner(settings: Settings) -> Planner | None:
    if not settings.llm_enabled:
        return None  # without an LLM the rule parser answers; the planner is never called
    from bot.agent.planner import OpenAIPlanner
    from bot.ops.instrument import MeteredPlanner

    planner: Planner = MeteredPlanner(OpenAIPlanner(settings))
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
        store = open_store(
            settings.redis_url,
            prefix=settings.key_prefix,
            options=ClientOptions(
                max_connections=settings.redis_max_connections,
                pool_timeout=settings.redis_pool_timeout_seconds,
                socket_timeout=settings.redis_socket_timeout_seconds,
                connect_timeout=settings.redis_connect_timeout_seconds,
            ),
            retries=settings.redis_retries,
        )
        closers.append(store.close)
    codec = ActionCodec(settings.action_secret.get_secret_value(), settings.action_ttl_seconds, clock)
    kubes: list[Any] = []
    if gateway is None:
        from bot.ops.instrument import MeteredGateway

        gateway = MeteredGateway(_default_gateway(settings, tracker, closers, kubes))
    if gate is None:
        gate = _default_gate(settings, store, gateway, codec, clock)
    audit_close = getattr(getattr(gate, "audit", None), "aclose", None)
    if audit_close is not None:
        closers.append(audit_close)  # reads queued for the audit trail are written before the store closes
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
    from bot.conversation.follow import FollowConfig, FollowHub, kube_source

    engine.follows = FollowHub(
        source=kube_source(kubes[0]) if kubes else None,  # an injected gateway has no cluster stream to follow
        store=store,
        tracker=tracker,
        config=FollowConfig(settings.follow_seconds, settings.follow_update_seconds, settings.follow_max),
    )
    from bot.ops.instrument import metered_handler

    handler: Any = engine
    alerts = None
    if settings.alerts_port is not None:
        from bot.alerts.factory import build_alerts

        # alert buttons and /incidents are answered in front of the engine; everything else passes through
        alerts = build_alerts(
            settings,
            store=store,
            tracker=tracker,
            codec=codec,
            gate=gate,
            inner=engine,
            toolbox=toolbox,
            planner=planner,
        )
        closers.append(alerts.close)
        handler = alerts.handler
    dispatcher = Dispatcher(
        store=store,
        handler=metered_handler(handler),
        tracker=tracker,
        limiter=RateLimiter(
            user=Rate(settings.rate_user_per_minute, burst=10), chat=Rate(settings.rate_chat_per_minute, burst=30)
        ),
        outage_retry_seconds=settings.store_outage_retry_seconds,
        handler_dedupes=handler is engine,  # the engine checks redeliveries in the round trip that takes its lock
    )
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
        alerts=alerts,
    )


def _logging(settings: Settings, *, quiet: bool) -> None:
    # the console owns stdout; logs go to stderr, and only warnings while chatting
    level = logging.WARNING if quiet else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


async def _console(settings: Settings, user: str | None = None, oncall: Any = None) -> int:
    from bot.channels.console import ConsoleChannel, run_console_channel

    # piped output is read afterwards, not watched: a "working on it" card there is only noise
    bot = build_bot(settings, progress_after=1.0 if sys.stdin.isatty() else 0)
    bot.tune_gc = True
    try:
        if settings.redis_url and not await bot.store.ping():
            # one clear line instead of a traceback per message
            print(
                f"kubeduty: Redis at {bot.store.where} is not reachable; start it, fix REDIS_URL, "
                "or unset REDIS_URL to use the in-process store.",
                file=sys.stderr,
            )
            return 1
        await bot.start()

        async def prepare(channel: ConsoleChannel) -> None:  # the demo's on-call loop (bot.alerts.demo)
            await oncall.attach(bot, channel)

        return await run_console_channel(bot, user=user, prepare=prepare if oncall is not None else None)
    finally:
        if oncall is not None:
            await oncall.close(settle=not sys.stdin.isatty())
        await bot.close()


def _run(settings: Settings, user: str | None = None, oncall: Any = None) -> int:
    try:
        return asyncio.run(_console(settings, user, oncall))
    except KeyboardInterrupt:  # Ctrl-C in the terminal: leave quietly
        return 130
    except BadRedisUrl as exc:
        print(f"kubeduty: {exc}", file=sys.stderr)
        return 2


def run_console(user: str | None = None) -> int:
    """`kubeduty chat`: the console against the current kubeconfig."""
    settings = load_settings()
    _logging(settings, quiet=True)
    return _run(settings, user)


def run_demo(user: str | None = None) -> int:
    """`kubeduty demo`: two sandbox clusters in threads (`sandbox`, the current one, and `sandbox-staging`, so
    cluster listing and `/use cluster` have something to show), the in-process store, the console. No
    credentials, no Redis, no LLM key needed."""
    import tempfile
    from pathlib import Path

    import yaml

    from tools.sandbox import multi_kubeconfig, start_sandbox_thread

    settings = load_settings()
    _logging(settings, quiet=True)
    clusters = {
        "sandbox": start_sandbox_thread(live=True),
        "sandbox-staging": start_sandbox_thread("staging", live=True),
    }
    try:
        with tempfile.TemporaryDirectory(prefix="kubeduty-demo-") as tmp:
            path = Path(tmp) / "kubeconfig"
            path.write_text(yaml.safe_dump(multi_kubeconfig(clusters, current="sandbox"), sort_keys=False))
            demo = settings.model_copy(update={"kubeconfig": str(path), "kube_context": "sandbox", "redis_url": None})
            from bot.alerts.demo import DemoOnCall

            oncall = DemoOnCall(clusters["sandbox"])  # alerts from the sandbox into the console; `/drill oom checkout`
            return _run(oncall.configure(demo), user, oncall)
    finally:
        for handle in clusters.values():
            handle.stop()


def run_platforms() -> int:
    """`kubeduty run`: every IM platform with credentials configured (bot.channels.runner.run_production)."""
    from bot.channels.runner import run_production

    return run_production(__name__)
