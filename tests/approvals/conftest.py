"""The gate wired to real parts: the sandbox K8s API over HTTP, the real tool gateway, real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.approvals import Caller, PolicyGate, build_gate
from bot.core.actions import ActionCodec
from bot.core.events import Conversation, Platform, Sender
from bot.policy import load_policy
from bot.render.model import Card, Code, Fields, Markdown, Note, Table
from bot.settings import REPO_ROOT, Settings
from bot.store import Store
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome
from tools.k8s.client import KubeClients

DEFAULT_POLICY = REPO_ROOT / "policies" / "default.yaml"


class RecordingResponder:
    """A Responder that keeps everything the gate said."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Card]] = []
        self.updates: list[tuple[str, Card]] = []
        self.toasts: list[str] = []

    async def send(self, card: Card) -> str | None:
        ref = f"msg-{len(self.sent) + 1}"
        self.sent.append((ref, card))
        return ref

    async def update(self, ref: str, card: Card) -> None:
        self.updates.append((ref, card))

    async def toast(self, text: str) -> None:
        self.toasts.append(text)

    def cards(self) -> list[Card]:
        return [c for _, c in self.sent] + [c for _, c in self.updates]


def card_text(card: Card) -> str:
    """Every string a card shows (title, blocks, buttons, footer), for content and leak checks."""
    parts: list[str] = [card.title, card.footer or "", card.input_hint or ""]
    for b in card.blocks:
        if isinstance(b, Markdown | Note):
            parts.append(b.text)
        elif isinstance(b, Code):
            parts += [b.text, b.truncated or ""]
        elif isinstance(b, Fields):
            parts += [f"{k}: {v}" for k, v in b.items]
        elif isinstance(b, Table):
            parts += list(b.columns) + [" | ".join(r) for r in b.rows] + [b.truncated or ""]
    parts += [btn.label for btn in card.buttons]
    return "\n".join(parts)


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class CountingGateway:
    """The real gateway, recording the calls of mutating tools: dry runs, and real changes (dry_run false)."""

    inner: ToolGateway
    executed: list[ToolCall] = field(default_factory=list)
    dry_runs: list[ToolCall] = field(default_factory=list)
    identities: list[tuple[str, str | None, tuple[str, ...]]] = field(default_factory=list)  # tool, user, groups

    async def call(
        self, call: ToolCall, *, impersonate_user: str | None = None, impersonate_groups: Sequence[str] = ()
    ) -> ToolOutcome:
        info = self.inner.info(call.tool)
        if info is not None and info.mutates:
            (self.dry_runs if call.args.get("dry_run") else self.executed).append(call)
            self.identities.append((call.tool, impersonate_user, tuple(impersonate_groups)))
        return await self.inner.call(call, impersonate_user=impersonate_user, impersonate_groups=impersonate_groups)

    def info(self, name: str) -> ToolInfo:
        info = self.inner.info(name)
        assert info is not None, f"no tool {name}"
        return info

    def tools(self) -> list[ToolInfo]:
        return self.inner.tools()


@pytest.fixture
async def gateway(sandbox: Any) -> AsyncIterator[CountingGateway]:
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=10.0)
    gw = ToolGateway([BuiltinSource(kube)])
    await gw.refresh()
    yield CountingGateway(gw)
    await kube.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def codec(clock: FakeClock) -> ActionCodec:
    return ActionCodec("test-secret", 3600, clock=clock)


class RaceStore:
    """The real store, with a one-shot barrier: the next `n` record reads all complete before any of them
    goes on, so every racer sees the same state and the compare-and-set alone must pick the winner."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.keys = inner.keys
        self._barrier: asyncio.Barrier | None = None
        self._left = 0

    def arm(self, n: int) -> None:
        self._barrier, self._left = asyncio.Barrier(n), n

    async def get_record(self, key: str) -> dict[str, str] | None:
        raw = await self._inner.get_record(key)
        if self._barrier is not None and self._left > 0:
            self._left -= 1
            await asyncio.wait_for(self._barrier.wait(), 10)
        return raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


GateFactory = Callable[..., PolicyGate]


@pytest.fixture
def make_gate(
    store: Store, gateway: CountingGateway, codec: ActionCodec, clock: FakeClock, tmp_path: Path
) -> GateFactory:
    def make(policy: Path | str = DEFAULT_POLICY, *, on: Store | RaceStore | None = None) -> PolicyGate:
        if isinstance(policy, str):
            f = tmp_path / "policy.yaml"
            f.write_text(policy)
            policy = f
        settings = Settings(
            audit_log_path=str(tmp_path / "audit.jsonl"), approval_ttl_seconds=600, policy_files=[str(policy)]
        )
        gate = build_gate(settings=settings, store=on or store, gateway=gateway, codec=codec, clock=clock)
        assert gate.policy == load_policy([policy])
        return gate

    return make


def caller(user: str, chat: str = "local", platform: Platform = Platform.CONSOLE, name: str = "") -> Caller:
    return Caller(Conversation(platform, chat, is_group=True), Sender(user, name or user))
