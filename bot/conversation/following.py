"""The engine's side of live log follow: `/logs <pod> -f`, the Follow button, the Stop button.

A follow is the `pod_logs` read kept open: it starts with that read (the gate's read check, redaction), then the
hub (`bot.conversation.follow`) keeps one card updated with the stream's newest lines.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from pydantic import ValidationError

from bot.conversation.flowcards import error_card
from bot.conversation.follow import FollowHub, FollowRefused, Target
from bot.conversation.followview import refused_text
from bot.conversation.logpages import Paging
from bot.conversation.texts import notice_card
from bot.conversation.turn import Turn
from bot.core.i18n import tr
from bot.render.model import Tone
from bot.tooling.types import ToolCall
from tools.k8s import models as m

log = logging.getLogger(__name__)

FOLLOW_TAIL = 50  # lines read before the stream takes over
# "实时日志" / "跟踪 cart 的日志" / "follow the logs of web": a logs request that wants the live view
FOLLOW_WORDS = re.compile(
    r"实时日志|跟踪日志|跟踪.{0,40}日志|滚动日志|持续.{0,6}日志|(?<![a-z])(?:follow|live|tail -f)(?![a-z])", re.I
)


def wants_follow(text: str) -> bool:
    return FOLLOW_WORDS.search(text) is not None


class Following(Paging):
    follows: FollowHub | None = None  # set by the composition root (bot.app); None: following is not offered

    async def start_follow(self, turn: Turn, args: dict[str, Any], first: dict[str, Any] | None = None) -> None:
        """Follow a pod's log; `first` is the `pod_logs` result just read for it (read here when None)."""
        lang = turn.lang
        info = self.tools.info("pod_logs")
        hub = self.follows
        if info is None or hub is None:
            await self.send(
                turn,
                notice_card(
                    lang, tr(lang, "无法跟踪", "Cannot follow"), refused_text(lang, "unavailable"), Tone.WARNING
                ),
            )
            return
        keep = ("cluster", "namespace", "pod", "container")
        read = {k: v for k, v in args.items() if k in keep and v is not None}
        if first is None:
            read["tail_lines"] = FOLLOW_TAIL
            out = await self.tools.read(turn.caller, ToolCall("pod_logs", read), lang)  # the gate, as for /logs
            if not out.ok or not isinstance(out.data, dict):
                await self.send(turn, error_card(lang, info, out))
                return
            first = out.data
        try:
            r = m.LogResult.model_validate(first)
        except ValidationError:
            await self.send(
                turn,
                notice_card(
                    lang, tr(lang, "无法跟踪", "Cannot follow"), refused_text(lang, "unavailable"), Tone.WARNING
                ),
            )
            return
        target = Target(r.namespace, r.pod, r.container, read.get("cluster"))
        conv = turn.caller.conversation
        # one live card per clicked logs card (a double click or a redelivery starts nothing more)
        card_key = f"{conv.chat_key}:{turn.message_ref}" if turn.message_ref else f"{conv.chat_key}:{uuid.uuid4().hex}"
        try:
            started = await hub.start(
                responder=turn.channel or turn.responder,
                lang=lang,
                budget=self.budget(turn),
                target=target,
                initial=r.lines,
                card_key=card_key,
            )
        except FollowRefused as exc:
            await self.send(
                turn,
                notice_card(lang, tr(lang, "无法跟踪", "Cannot follow"), refused_text(lang, exc.why), Tone.WARNING),
            )
            return
        if started is None:
            await turn.responder.toast(
                tr(lang, "这张卡片的日志已经在跟踪了。", "This card's log is being followed already.")
            )
            return
        turn.state.add_turn("assistant", f"following logs of {r.namespace}/{r.pod}")

    async def on_unfollow(self, turn: Turn, a: dict[str, Any]) -> None:
        lang = turn.lang
        hub = self.follows
        if hub is None:
            await turn.responder.toast(tr(lang, "这个按钮已失效。", "This button is no longer valid."))
            return
        await hub.stop(str(a["f"]))
        await turn.responder.toast(tr(lang, "正在停止跟踪。", "Stopping the live log."))
