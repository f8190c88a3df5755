"""The on-call loop in `kubeduty demo`: alerts into the console, without Prometheus or Alertmanager installed.

The demo's sandbox plays Prometheus + Alertmanager (tools.sandbox.alerting): it evaluates the shipped rules'
conditions over its own objects and posts Alertmanager-format webhooks, with the bearer token, to the bot's real
receiver on loopback; the alert cards land in the console chat. `/drill oom checkout` (演练) breaks a workload
through the sandbox's authenticated incident endpoint (tools.sandbox.drill_client), as the CLI does, and waits
until the alert card is out. With PROMETHEUS_URL set, the sandbox stays quiet: alerts come from the user's own
Alertmanager to ALERTS_PORT, and diagnosis and verification use Prometheus.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from bot.channels.console import ConsoleChannel, ConsoleResponder
from bot.core.events import Platform
from bot.core.i18n import Lang, tr
from bot.policy.engine import decide
from bot.policy.model import CallFacts
from bot.settings import Settings
from tools.sandbox.alerting import AlertEmitter
from tools.sandbox.drill_client import DrillFailed, target_from_kubeconfig, trigger_remote
from tools.sandbox.incidents import KINDS, IncidentError, find_deployment

log = logging.getLogger(__name__)

CARD_WAIT_SECONDS = 90.0  # a drill's pods need a few sandbox seconds to fail; a loaded machine, more
POLL_SECONDS = 0.2
NOTICE_SECONDS = 3.0  # the follow-up polls the audit trail every second
SETTLE_SECONDS = 120.0  # at the end of piped input: how long a runbook under way may take to verify and resolve
# a runbook's story has ended without a resolve: nothing more to wait for
SETTLED = frozenset({"runbook_failed", "runbook_unknown", "verify_timeout", "verify_unknown"})

# what each drill does, as the user reads it
DRILL_TEXT: dict[str, tuple[str, str]] = {
    "oom": (
        "新版本需要的内存超过上限，容器将被 OOMKilled",
        "the new revision needs more memory than its limit: OOMKilled",
    ),
    "crashloop": (
        "Pod 启动时依赖不可用，进入 CrashLoopBackOff",
        "its pods lost a dependency at start: CrashLoopBackOff",
    ),
    "imagepull": ("发布了一个不存在的镜像标签，拉取镜像失败", "a release with an image tag that does not exist"),
    "pending": ("扩容 3 个副本，节点放不下，Pod 处于 Pending", "scaled up by 3 replicas the nodes cannot fit: Pending"),
    "badrollout": ("发布了一个启动即崩溃的版本", "a release whose new pods crash at start"),
}


class ConsoleOutbox:
    """The alert service's way into the console chat (the demo's only chat)."""

    def __init__(self, channel: ConsoleChannel) -> None:
        self.channel = channel

    def responder(self, chat_key: str, lang: Lang) -> ConsoleResponder | None:
        return self.channel.responder if chat_key == self.channel.conversation.chat_key else None


class DemoOnCall:
    def __init__(self, sandbox: Any, *, console_chat: str = "console:console") -> None:
        self.sandbox = sandbox  # tools.sandbox.SandboxHandle
        self.console_chat = console_chat
        self.emitter: AlertEmitter | None = None
        self.bot: Any = None
        self.token = ""
        self.prometheus = False
        self.channel: ConsoleChannel | None = None

    def configure(self, settings: Settings) -> Settings:
        """The demo's settings with the receiver on loopback, a fresh token, and the console as the alert chat."""
        self.prometheus = bool(settings.prometheus_url)
        given = settings.alerts_token.get_secret_value() if settings.alerts_token else ""
        self.token = given if self.prometheus and given else secrets.token_urlsafe(24)
        return settings.model_copy(
            update={
                "alerts_port": settings.alerts_port if self.prometheus and settings.alerts_port else 0,
                "alerts_host": "127.0.0.1" if not self.prometheus else settings.alerts_host,
                "alerts_token": SecretStr(self.token),
                "alert_routes_file": None,
                "alert_chats": [self.console_chat],
                "alert_card_budget": max(settings.alert_card_budget, 20),
            }
        )

    async def attach(self, bot: Any, channel: ConsoleChannel) -> None:
        self.bot = bot
        if bot.alerts is None:
            return
        await bot.alerts.attach(ConsoleOutbox(channel))
        if not self.prometheus:
            self.emitter = AlertEmitter(
                self.sandbox.cluster, url=bot.alerts.receiver.url, token=self.token, ignore_standing=True
            ).start()
        self.channel = channel
        channel.drill = self.drill

    async def close(self, *, settle: bool = False) -> None:
        """`settle` (piped input at its end): let a runbook already under way finish its story first, so a script
        ends on the resolved card rather than at the approval (bounded by SETTLE_SECONDS)."""
        if settle and self.bot is not None and self.bot.alerts is not None and self.emitter is not None:
            await self._settle()
        if self.emitter is not None:
            await asyncio.to_thread(self.emitter.stop)

    async def _settle(self) -> None:
        started = time.monotonic()
        while time.monotonic() < started + SETTLE_SECONDS:
            # the follow-up notices an execution within a poll or two: a proposal still waiting after that
            # was never approved, and is not waited for
            noticing = time.monotonic() < started + NOTICE_SECONDS
            busy = False
            for inc in await self.bot.alerts.service.incidents.recent(20):
                kinds = {e.kind for e in inc.timeline}
                if kinds & SETTLED or "runbook_proposed" not in kinds:
                    continue
                if inc.resolved and ("verified" in kinds or "runbook_executed" not in kinds):
                    # resolved can come first: the unhealthy pod goes at once while the fixed rollout still runs
                    continue
                busy = busy or "runbook_executed" in kinds or noticing
            if not busy:
                return
            await asyncio.sleep(POLL_SECONDS)

    # ---- /drill KIND NAME [-n NAMESPACE]
    async def drill(self, args: list[str], lang: Lang, say: Callable[[str], None]) -> None:
        namespace = None
        if "-n" in args:
            at = args.index("-n")
            namespace = args[at + 1] if at + 1 < len(args) else ""
            args = args[:at] + args[at + 2 :]
        if len(args) != 2 or args[0].lower() not in KINDS or not namespace and namespace is not None:
            say(
                "⚠ "
                + tr(
                    lang,
                    "用法：/drill <类型> <工作负载> [-n 命名空间]，类型：{k}。例如 /drill oom checkout",
                    "Usage: /drill <kind> <workload> [-n namespace], kinds: {k}. E.g. /drill oom checkout",
                    k=", ".join(KINDS),
                )
            )
            return
        kind, name = args[0].lower(), args[1]
        started = time.time()
        refused = await asyncio.to_thread(self._refusal, name, namespace, lang)
        if refused:
            say("⚠ " + tr(lang, "演练没有开始：{e}", "The drill did not start: {e}", e=refused))
            return
        try:
            target = target_from_kubeconfig(self.sandbox.kubeconfig_path)
            done = await asyncio.to_thread(trigger_remote, target, kind, name, namespace)
        except DrillFailed as exc:
            log.info("drill %s %s refused: %s", kind, name, exc)
            say(
                "⚠ "
                + tr(
                    lang,
                    "演练没有开始：{e}",
                    "The drill did not start: {e}",
                    e=_reason(str(exc), lang, name, namespace),
                )
            )
            return
        where = f"{done.get('namespace')}/{done.get('deployment')}"
        zh, en = DRILL_TEXT[kind]
        say(
            "» "
            + tr(
                lang,
                "演练开始：{w} — {d}。等待告警…",
                "Drill started: {w} — {d}. Waiting for the alert…",
                w=where,
                d=tr(lang, zh, en),
            )
        )
        if self.prometheus:
            return  # the user's Prometheus decides when it fires
        if not await self._wait_card(str(done.get("namespace")), str(done.get("deployment")), started):
            say(
                "» "
                + tr(
                    lang,
                    "告警还没有触发；触发后卡片会出现在这里。",
                    "The alert has not fired yet; its card will appear here when it does.",
                )
            )

    async def _wait_card(self, namespace: str, deployment: str, since: float) -> bool:
        service = self.bot.alerts.service
        deadline = time.monotonic() + CARD_WAIT_SECONDS
        while time.monotonic() < deadline:
            for inc in await service.incidents.recent(20):
                labels = inc.common_labels
                if (
                    labels.get("namespace") == namespace
                    and labels.get("deployment") == deployment
                    and not inc.resolved
                    and inc.cards.get(self.console_chat)
                    and any(e.at >= since for e in inc.timeline)
                ):
                    return True
            await asyncio.sleep(POLL_SECONDS)
        return False

    def _refusal(self, name: str, namespace: str | None, lang: Lang) -> str:
        """The drill breaks a workload as the sandbox's admin: only where the typing user may at least read it
        (the same policy files as every request), so a drill cannot reach a namespace the user cannot see."""
        policy = getattr(getattr(self.bot, "gate", None), "policy", None)
        if policy is None or self.channel is None:
            return ""  # no policy loaded: everyone reads (the bot's own default)
        try:
            with self.sandbox.cluster.lock:
                dep = find_deployment(self.sandbox.cluster, name, namespace)
        except IncidentError:
            return ""  # the sandbox's own answer (no such Deployment, ambiguous) is worded by the caller
        ns = str(dep["metadata"]["namespace"])
        who = self.channel.sender.subject(Platform.CONSOLE)
        facts = CallFacts(tool="get_deployment", verb="get", resource="deployments", namespace=ns)
        if decide(policy, who, self.channel.conversation.chat_key, facts).allowed:
            return ""
        return tr(lang, "你没有权限查看命名空间 {n}", "you may not read namespace {n}", n=ns)


def _reason(error: str, lang: Lang, name: str, namespace: str | None = None) -> str:
    """The sandbox's refusal in the user's words (its own messages are English)."""
    if error.startswith("no Deployment") and namespace:
        return tr(
            lang,
            "命名空间 {ns} 里没有名为 {n} 的 Deployment",
            "there is no Deployment named {n} in namespace {ns}",
            n=name,
            ns=namespace,
        )
    if error.startswith("no Deployment"):
        return tr(lang, "没有名为 {n} 的 Deployment", "there is no Deployment named {n}", n=name)
    if "several namespaces" in error:
        return tr(
            lang,
            "多个命名空间里都有 {n}，请加 -n 命名空间",
            "{n} exists in several namespaces: add -n NAMESPACE",
            n=name,
        )
    if error.startswith("cannot reach"):
        return tr(lang, "无法连接沙箱", "the sandbox cannot be reached")
    if "has no pods" in error or "has no containers" in error:
        return tr(lang, "{n} 现在没有可以演练的 Pod 或容器", "{n} has no pods or containers to break now", n=name)
    return tr(lang, "沙箱拒绝了请求", "the sandbox refused") if lang is Lang.ZH else error
