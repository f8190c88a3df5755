"""The LLM planner path: the model reads through the same tools and can only propose changes."""

from __future__ import annotations

import logging

from bot.agent.port import AgentTurn
from bot.conversation import nextsteps
from bot.conversation.base import EngineBase
from bot.conversation.parser import (
    Intent,
    Kind,
    parse,
)
from bot.conversation.progress import ProgressResponder
from bot.conversation.turn import Turn
from bot.core.i18n import tr
from bot.render.model import Block, Button, Card, Markdown
from bot.render.views import result_blocks
from bot.tooling.types import ToolCall, ToolOutcome

log = logging.getLogger(__name__)


class Planning(EngineBase):
    # ------------------------------------------------------------------ LLM
    async def _llm(self, turn: Turn, text: str) -> None:
        assert self.planner is not None
        lang = turn.lang
        all_tools = self.tools.tools()
        offered = self.select_tools(text, all_tools) if self.select_tools else all_tools

        async def call_tool(call: ToolCall) -> ToolOutcome:
            info = self.tools.info(call.tool)
            if info is None or info.mutates:
                return ToolOutcome(ok=False, error_code="forbidden", error="mutations are proposed, never run here")
            return await self.tools.read(turn.caller, call, lang, cached=True)

        mem = turn.state.memory
        context = {k: str(v) for k, v in mem.model_dump().items() if v}
        try:
            result: AgentTurn = await self.planner.run(
                text=text,
                lang=lang,
                tools=offered,
                call_tool=call_tool,
                history=list(turn.state.turns[:-1]),
                context=context,
                on_progress=turn.responder.partial if isinstance(turn.responder, ProgressResponder) else None,
            )
        except Exception:  # the planner must not take the chat down; rules take over
            log.exception("planner raised")
            result = AgentTurn(failed=tr(lang, "模型调用出错", "the model call failed"))
        if result.failed:
            turn.notes.append(
                tr(
                    lang,
                    "AI 暂时不可用（{r}），改用内置规则处理。",
                    "The AI is unavailable ({r}); using the built-in rules.",
                    r=result.failed,
                )
            )
            await self._on_intent(turn, parse(text), text)
            return
        blocks: list[Block] = []
        if result.answer:
            blocks.append(Markdown(result.answer[:3000]))
        buttons: list[Button] = []
        for call, out in result.executed[-2:]:
            info = self.tools.info(call.tool)
            if info is None:
                continue
            if out.ok:
                blocks.extend(result_blocks(call.tool, out.data, out.text, lang))
                self._remember(turn, call.tool, call.args)
                b, n = nextsteps.next_steps(call.tool, call.args, out.data, lang)
                buttons, notes = b, n
                blocks.extend(notes)
        if blocks or not (result.proposed or result.incomplete):
            await self.send(
                turn,
                Card(
                    title=tr(lang, "KubeDuty", "KubeDuty"),
                    blocks=tuple(blocks) or (Markdown("…"),),
                    buttons=tuple(buttons),
                ),
            )
            turn.state.add_turn("assistant", result.answer or "(results)")
        for call in result.proposed[:3]:
            info = self.tools.info(call.tool)
            if info is None:
                continue
            await self.start(turn, Intent(Kind.TOOL, call.tool, {k: v for k, v in call.args.items() if v is not None}))
        if result.incomplete is not None:
            await self.start(turn, Intent(Kind.TOOL, result.incomplete.tool, dict(result.incomplete.args)))
