"""The engine's shared base: dependencies, sending, cached name lookups."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.agent.port import Planner
from bot.approvals.port import Gate
from bot.conversation import nextsteps
from bot.conversation.flowcards import (
    single_containers,
)
from bot.conversation.parser import (
    MAX_PARSE_CHARS,
    Intent,
)
from bot.conversation.slots import (
    extract,
    namespaces_of,
    source,
)
from bot.conversation.state import Flow
from bot.conversation.toolbox import Toolbox
from bot.conversation.turn import Turn
from bot.core.actions import ActionCodec
from bot.core.i18n import tr
from bot.core.tasks import TaskTracker
from bot.render.model import Card, Note, Tone
from bot.store import Store
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome

log = logging.getLogger(__name__)


MAX_MESSAGE_CHARS = MAX_PARSE_CHARS  # checked before any parsing: nothing longer reaches a pattern
PAGE_SIZE = 8
MAX_LISTED = 20  # pod-list rows remembered for "第二个的日志" (the card shows at most 20)
OBJECT_SLOTS = ("pod", "deployment", "statefulset", "node", "container", "name")


class EngineBase:
    """What every part of the engine shares: its dependencies, sending a card, and the cached name lookups.
    The parts (slot filling, running, planning, the engine itself) call each other through these stubs."""

    def __init__(
        self,
        *,
        store: Store,
        toolbox: Toolbox,
        gate: Gate,
        codec: ActionCodec,
        planner: Planner | None = None,
        state_ttl: int = 24 * 3600,
        tracker: TaskTracker | None = None,
        progress_after: float = 1.0,
        select_tools: Callable[[str, list[ToolInfo]], list[ToolInfo]] | None = None,
        lock_wait: float = 10.0,
    ) -> None:
        self.store = store
        self.tools = toolbox
        self.gate = gate
        self.codec = codec
        self.planner = planner
        self.state_ttl = state_ttl
        self.tracker = tracker
        self.progress_after = progress_after
        self.select_tools = select_tools
        self.lock_wait = lock_wait

    async def send(self, turn: Turn, card: Card) -> None:
        if turn.notes:
            notes = tuple(Note(n, Tone.WARNING) for n in turn.notes)
            card = Card(
                title=card.title,
                blocks=notes + card.blocks,
                buttons=card.buttons,
                tone=card.tone,
                footer=card.footer,
                input_hint=card.input_hint,
                meta=card.meta,
            )
            turn.notes.clear()
        await turn.responder.send(card)

    async def _names(
        self, turn: Turn, flow: Flow, what: str, *, hint: str | None = None, fresh: bool = False
    ) -> list[str] | None:
        """The names a parameter can take (cached listing unless `fresh`); None if the listing failed."""
        call = source(what, flow.args, hint)
        if call is None:
            return None
        if fresh:
            await self._forget_kind(call.tool)
        out = await self.tools.read(turn.caller, call, turn.lang, cached=True)
        if not out.ok:
            if out.error_code == "not_found" and what != "namespace" and call.args.get("namespace"):
                return []  # the namespace is gone (a stale choice): the caller checks and re-offers
            turn.notes.append(out.error or tr(turn.lang, "查询失败。", "The lookup failed."))
            return None
        if what == "pod":
            flow.crashing = nextsteps.crashing_pods(out.data)[:50]
            flow.containers = single_containers(out.data)
        return extract(what, out.data)

    async def _forget_kind(self, tool: str) -> None:
        pattern = self.store.keys.cache(tool, "x").rsplit(":", 1)[0] + ":*"
        await self.store.delete_pattern(pattern)

    async def _locate(self, turn: Turn, flow: Flow, hint: str) -> list[str]:
        """Namespaces holding objects that match the hint (the "I found them in dev" help)."""
        if flow.hints.get("deployment") and not flow.hints.get("pod"):
            call = ToolCall("list_deployments", {k: v for k, v in flow.args.items() if k == "cluster"})
        else:
            call = ToolCall(
                "list_pods", {**{k: v for k, v in flow.args.items() if k == "cluster"}, "name_filter": hint}
            )
        out = await self.tools.read(turn.caller, call, turn.lang, cached=True)
        if not out.ok or not isinstance(out.data, dict):
            return []
        items = [i for i in out.data.get("items", []) if isinstance(i, dict) and hint in str(i.get("name", ""))]
        return namespaces_of({"items": items})

    def _object_hint(self, flow: Flow) -> str | None:
        for p in ("pod", "deployment", "statefulset", "name", "object_name", "name_filter"):
            if flow.hints.get(p):
                return flow.hints[p]
        return None

    async def ask(
        self, turn: Turn, flow: Flow, slot: str, *, full: bool = False, page: int = 0, depth: int = 0
    ) -> None:
        raise NotImplementedError

    async def reask(self, turn: Turn, flow: Flow, slot: str) -> None:
        raise NotImplementedError

    async def _advance(self, turn: Turn, flow: Flow, depth: int = 0) -> None:
        raise NotImplementedError

    async def _execute(self, turn: Turn, flow: Flow) -> None:
        raise NotImplementedError

    async def start(self, turn: Turn, intent: Intent) -> None:
        raise NotImplementedError

    async def _on_intent(self, turn: Turn, intent: Intent, text: str) -> None:
        raise NotImplementedError

    def _remember(self, turn: Turn, tool: str, args: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _recover(self, turn: Turn, flow: Flow, info: ToolInfo, out: ToolOutcome) -> bool:
        raise NotImplementedError

    async def paged_result(
        self, turn: Turn, info: ToolInfo, args: dict[str, Any], data: dict[str, Any] | None, *, crashing: bool
    ) -> bool:
        return False  # bot.conversation.logpages: logs and lists sized to the platform, with pages

    async def start_follow(self, turn: Turn, args: dict[str, Any], first: dict[str, Any] | None = None) -> None:
        raise NotImplementedError  # bot.conversation.following
