"""Two bot replicas (separate processes' worth of state: each its own store client, gateway and dispatcher)
sharing one Redis topology and one sandbox cluster, driven with messages and button clicks while a fault is
injected in the middle. Used by tests/faults/test_two_replicas.py and tests/bench/bench_faults.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import Bot, build_bot
from bot.core.actions import Action
from bot.core.events import CardActionEvent, Conversation, MessageEvent, Platform, Sender
from bot.render.model import Card
from bot.settings import Settings
from bot.store import open_store

POLICY = Path(__file__).resolve().parents[1] / "channels" / "data" / "policy.yaml"
NOT_ANSWERS = ("Something went wrong", "This message was not handled", "Storage is unavailable", "Not finished")


class Recorder:
    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.toasts: list[str] = []

    async def send(self, card: Card) -> str | None:
        self.cards.append(card)
        return f"card-{len(self.cards)}"

    async def update(self, ref: str, card: Card) -> None:
        self.cards.append(card)

    async def toast(self, text: str) -> None:
        self.toasts.append(text)

    def answered(self) -> bool:
        """At least one card that is an answer (storage notices and error cards are not)."""
        return any(not c.title.startswith(NOT_ANSWERS) for c in self.cards)


@dataclass
class Outcome:
    sent: int = 0
    answered: int = 0
    unanswered: list[str] = field(default_factory=list)
    executions: dict[str, int] = field(default_factory=dict)  # approval id -> execute audit rows
    replicas_after: dict[str, int] = field(default_factory=dict)
    replicas_wanted: dict[str, int] = field(default_factory=dict)
    clicks: list[list[Recorder]] = field(default_factory=list)


def settings_for(url: str, sandbox: Any, prefix: str, tmp: Path) -> Settings:
    return Settings(
        redis_url=url,
        key_prefix=prefix,
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        llm_api_key=None,
        action_secret="replicas-" + "s" * 40,
        policy_files=[str(POLICY)],
        audit_log_path=str(tmp / f"audit-{uuid.uuid4().hex[:6]}.jsonl"),
        redis_socket_timeout_seconds=2.0,
        redis_connect_timeout_seconds=2.0,
        store_outage_retry_seconds=120.0,
    )


def _message(n: int, text: str, user: str) -> MessageEvent:
    return MessageEvent(f"m-{uuid.uuid4().hex}", Conversation(Platform.FEISHU, "oc_group", True), Sender(user), text)


async def run_scenario(
    url: str,
    sandbox: Any,
    tmp: Path,
    *,
    fault: Callable[[], Awaitable[None]],
    messages: int = 24,
    changes: tuple[str, ...] = ("cart-service-v1",),
) -> Outcome:
    prefix = f"kdrep-{uuid.uuid4().hex[:8]}"
    bots: list[Bot] = [build_bot(settings_for(url, sandbox, prefix, tmp)) for _ in range(2)]
    out = Outcome()
    recorders: list[tuple[str, Recorder]] = []

    async def say(bot: Bot, text: str, user: str) -> Recorder:
        rec = Recorder()
        recorders.append((text, rec))
        out.sent += 1
        await bot.dispatcher.submit(_message(len(recorders), text, user), rec)
        return rec

    try:
        for bot in bots:
            await bot.start()
        half = messages // 2
        for i in range(half):
            await say(bots[i % 2], "/pods dev", f"ou_user{i % 6}")
        # changes: proposed on one replica, confirmed by clicks on both replicas at once (a double click racing)
        proposals: list[tuple[str, Recorder, int]] = []
        for name in changes:
            before = int(sandbox.cluster.peek("deployments", "dev", name)["spec"]["replicas"])
            proposals.append((name, await say(bots[0], f"/scale {name} {before + 1} -n dev", "ou_alice"), before + 1))
        for bot in bots:
            await bot.dispatcher.drain()
        await fault()
        for name, proposal, wanted in proposals:
            out.replicas_wanted[name] = wanted
            card = next((c for c in proposal.cards if any(b.label == "Confirm" for b in c.buttons)), None)
            assert card is not None, [c.title for c in proposal.cards]
            action: Action = next(b.action for b in card.buttons if b.label == "Confirm")
            payload = bots[0].codec.encode(action, "feishu:oc_group")
            clicks = [Recorder() for _ in bots]
            for bot, rec in zip(bots, clicks, strict=True):
                event = CardActionEvent(
                    f"c-{uuid.uuid4().hex}",
                    Conversation(Platform.FEISHU, "oc_group", True),
                    Sender("ou_alice"),
                    payload,
                )
                await bot.dispatcher.submit(event, rec)
            out.clicks.append(clicks)
        for i in range(half, messages):
            await say(bots[i % 2], "/pods dev", f"ou_user{i % 6}")
        for bot in bots:
            await bot.dispatcher.drain()
        for text, rec in recorders:
            if rec.answered():
                out.answered += 1
            else:
                out.unanswered.append(f"{text}: {[c.title for c in rec.cards]}")
        for name in changes:
            out.replicas_after[name] = int(sandbox.cluster.peek("deployments", "dev", name)["spec"]["replicas"])
        reader = open_store(url, prefix=prefix)
        try:
            for row in await reader.read_stream_tail(reader.keys.audit_stream(), 1000):
                if row.get("event") == "execute":
                    aid = row.get("approval_id", "?")
                    out.executions[aid] = out.executions.get(aid, 0) + 1
            await reader.delete_pattern(f"{prefix}:*")
        finally:
            await reader.close()
    finally:
        for bot in bots:
            await bot.close()
    return out


async def in_thread(fn: Callable[[], Any]) -> None:
    await asyncio.to_thread(fn)
