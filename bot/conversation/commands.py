"""Bot commands and switching: reset, refresh the cache, the current namespace and cluster."""

from __future__ import annotations

import logging

from bot.conversation.base import EngineBase
from bot.conversation.parser import (
    Intent,
    Kind,
)
from bot.conversation.slots import (
    valid_name,
)
from bot.conversation.state import ConvState, Flow
from bot.conversation.texts import (
    notice_card,
)
from bot.conversation.turn import Turn
from bot.conversation.understand import did_you_mean
from bot.core.i18n import tr
from bot.render.model import Tone

log = logging.getLogger(__name__)


class Commands(EngineBase):
    # ------------------------------------------------------------------ commands
    async def _reset(self, turn: Turn) -> None:
        lang = turn.lang
        fresh = ConvState(lang=turn.state.lang, greeted=True)
        for name in ConvState.model_fields:
            setattr(turn.state, name, getattr(fresh, name))
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "已重置", "Reset"),
                tr(
                    lang,
                    "已清空这段对话的上下文（当前命名空间、进行中的问题等）。",
                    "I forgot this conversation's context (current namespace, pending questions).",
                ),
                Tone.SUCCESS,
            ),
        )

    async def _refresh(self, turn: Turn) -> None:
        lang = turn.lang
        n = await self.tools.clear()
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "缓存已刷新", "Cache refreshed"),
                tr(
                    lang,
                    "已清除 {n} 条缓存，接下来的列表都会从集群重新获取。",
                    "Dropped {n} cached entries; the next lists come fresh from the cluster.",
                    n=n,
                ),
                Tone.SUCCESS,
            ),
        )

    async def use_ns(self, turn: Turn, value: str) -> None:
        lang = turn.lang
        flow = Flow(tool="list_namespaces")
        if not valid_name("namespace", value):
            turn.notes.append(
                tr(lang, "`{v}` 不是合法的命名空间名。", "`{v}` is not a valid namespace name.", v=value[:80])
            )
            await self.start(turn, Intent(Kind.TOOL, "list_namespaces"))
            return
        names = await self._names(turn, flow, "namespace")
        if names is not None and value not in names:
            names = await self._names(turn, flow, "namespace", fresh=True)
        if names is None:
            await self.send(turn, notice_card(lang, tr(lang, "查询失败", "Lookup failed"), "", Tone.DANGER))
            return
        if value not in names:
            turn.notes.append(
                tr(lang, "命名空间 `{n}` 不存在。", "Namespace `{n}` does not exist.", n=value)
                + did_you_mean(lang, value, names)
            )
            await self.start(turn, Intent(Kind.TOOL, "list_namespaces"))
            return
        turn.state.memory.namespace = value
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "当前命名空间：{n}", "Current namespace: {n}", n=value),
                tr(
                    lang,
                    "之后的查询默认使用 `{n}`（修改操作仍需明确指定）。",
                    "Reads now default to `{n}` (changes still name it explicitly).",
                    n=value,
                ),
                Tone.SUCCESS,
            ),
        )

    async def known(self, turn: Turn, what: str) -> list[str] | None:
        """The names of one kind the bot knows now (cached listing), for words like "换到 production"."""
        args = {"cluster": turn.state.memory.cluster} if turn.state.memory.cluster and what != "cluster" else {}
        return await self._names(turn, Flow(tool="list_clusters", args=args), what)

    async def use_cluster(self, turn: Turn, value: str) -> bool:
        lang = turn.lang
        names = await self._names(turn, Flow(tool="list_clusters"), "cluster")
        if names is None:
            await self.send(turn, notice_card(lang, tr(lang, "查询失败", "Lookup failed"), "", Tone.DANGER))
            return False
        if value not in names:
            turn.notes.append(
                tr(lang, "没有名为 `{c}` 的集群。", "There is no cluster named `{c}`.", c=value[:80])
                + did_you_mean(lang, value, names)
            )
            await self.start(turn, Intent(Kind.TOOL, "list_clusters"))
            return False
        turn.state.memory.cluster = value
        turn.state.memory.namespace = None
        turn.state.memory.last_namespace = None
        await self.send(
            turn,
            notice_card(
                lang,
                tr(lang, "当前集群：{c}", "Current cluster: {c}", c=value),
                tr(lang, "之后的操作默认使用集群 `{c}`。", "From now on I use cluster `{c}`.", c=value),
                Tone.SUCCESS,
            ),
        )
        return True
