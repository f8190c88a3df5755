"""Running a completed request: a change goes to the gate (confirmation card), a health check shows its plan,
a read runs and its result card is shown; what was shown is remembered for "its events"."""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.conversation import nextsteps
from bot.conversation.base import MAX_LISTED, OBJECT_SLOTS, EngineBase
from bot.conversation.controls import remember_pending, remember_plan
from bot.conversation.flowcards import (
    error_card,
    focus_pod,
    no_previous_card,
    not_started_card,
    request_title,
    what_label,
)
from bot.conversation.slots import (
    meaning,
)
from bot.conversation.state import Flow
from bot.conversation.texts import (
    plan_card,
)
from bot.conversation.turn import Turn, Watch
from bot.conversation.understand import did_you_mean
from bot.core.i18n import tr
from bot.render.model import Block, Card
from bot.render.views import result_blocks, tone_of
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome

log = logging.getLogger(__name__)


class Running(EngineBase):
    # ------------------------------------------------------------------ running
    async def _execute(self, turn: Turn, flow: Flow) -> None:
        lang, st = turn.lang, turn.state
        info = self.tools.info(flow.tool)
        if info is None:
            st.flow = None
            return
        args = {k: v for k, v in flow.args.items() if v is not None}
        pod = args.get("pod")
        if "container" in info.properties and "container" not in args and isinstance(pod, str):
            if pod in flow.containers:  # the pod's only container, seen in the list just offered
                args["container"] = flow.containers[pod]
        follow = bool(args.pop("follow", False)) and info.name == "pod_logs"  # `/logs pod -f`: the live card
        call = ToolCall(info.name, args)
        st.flow = None
        self._remember(turn, info.name, args)
        if info.mutates:
            watch = Watch(turn.responder)
            await self.gate.propose(turn.caller, call, info, watch, lang)
            remember_pending(turn, watch, info.name)  # a typed "执行"/"yes" presses its Confirm, "算了" its Cancel
            st.add_turn("assistant", f"proposed {info.name} {args}")
            return
        if flow.plan:
            action = nextsteps.run(info.name, args)
            await self.send(turn, plan_card(lang, info, args, action))
            remember_plan(turn, action, info.name)  # "好的" / "检查吧" runs it
            return
        out = await self.tools.read(turn.caller, call, lang)
        if not out.ok:
            if info.name == "pod_logs" and args.get("previous") and "no previous logs" in (out.error or ""):
                await self.send(turn, no_previous_card(lang, args))
                return
            started = re.search(r"has not started \((\w+)\)", out.error or "")
            if info.name == "pod_logs" and started:
                await self.send(turn, not_started_card(lang, args, started.group(1)))
                return
            if out.error_code == "not_found" and not flow.recovered:
                if await self._recover(turn, flow, info, out):
                    return
            await self.send(turn, error_card(lang, info, out))
            return
        data = out.data
        if follow:  # the read passed the gate and found the pod: the live card takes over from here
            await self.start_follow(turn, args, data)
            return
        hint = flow.hints.get("object_name")
        if info.name == "list_events" and hint and isinstance(data, dict) and not args.get("object_name"):
            items = [e for e in data.get("items", []) if hint in str(e.get("object", ""))]
            data = {**data, "items": items, "total": len(items), "truncated": False}
        crashing = bool(args.get("pod")) and args.get("pod") in flow.crashing
        if info.name == "list_pods" and isinstance(data, dict):
            st.memory.listed = [
                [str(p.get("namespace")), str(p.get("name"))]
                for p in data.get("items", [])[:MAX_LISTED]
                if isinstance(p, dict) and p.get("name")
            ]
        focus = focus_pod(info.name, data)
        if focus is not None:  # "orders 怎么了" -> one failing pod: "它的日志" now means that pod
            st.memory.pod, st.memory.pod_namespace = focus
        if not await self.paged_result(turn, info, args, data, crashing=crashing):
            await self.send(turn, self.result_card(turn, info, args, data, out.text, crashing=crashing))
        st.add_turn("assistant", f"{info.name} {args}: ok")

    def result_card(
        self,
        turn: Turn,
        info: ToolInfo,
        args: dict[str, Any],
        data: dict[str, Any] | None,
        text: str,
        *,
        crashing: bool = False,
    ) -> Card:
        lang = turn.lang
        blocks: list[Block] = list(result_blocks(info.name, data, text, lang))  # the view picks the zh findings
        buttons, notes = nextsteps.next_steps(info.name, args, data, lang, crashing=crashing)
        blocks.extend(notes)
        return Card(
            title=request_title(lang, info, args),
            blocks=tuple(blocks),
            buttons=tuple(buttons),
            tone=tone_of(info.name, data),
        )

    def _remember(self, turn: Turn, tool: str, args: dict[str, Any]) -> None:
        mem = turn.state.memory
        info = self.tools.info(tool)
        if isinstance(args.get("namespace"), str) and info is not None and not info.mutates:
            mem.last_namespace = args["namespace"]
        if info is not None and not info.mutates:
            mem.last_tool, mem.last_args = tool, {k: v for k, v in args.items() if isinstance(v, str | int | bool)}
        if args.get("pod"):
            mem.pod, mem.pod_namespace = str(args["pod"]), args.get("namespace")
        if tool == "list_events" and args.get("object_name"):
            mem.pod, mem.pod_namespace = str(args["object_name"]), args.get("namespace")
        if args.get("deployment"):
            mem.deployment, mem.deployment_namespace = str(args["deployment"]), args.get("namespace")
        if args.get("node"):
            mem.node = str(args["node"])

    async def _recover(self, turn: Turn, flow: Flow, info: ToolInfo, out: ToolOutcome) -> bool:
        """A read failed with NOT_FOUND: probably a stale cached choice. Drop it, fetch fresh, re-offer."""
        lang = turn.lang
        if flow.recovered:
            return False
        flow.recovered = True  # recover once per flow: a second NOT_FOUND is reported, never re-asked in a loop
        ns = flow.args.get("namespace")
        if isinstance(ns, str):
            fresh = await self._names(turn, flow, "namespace", fresh=True)
            if fresh is not None and ns not in fresh:
                flow.args.pop("namespace")
                for p in OBJECT_SLOTS:
                    flow.args.pop(p, None)
                turn.notes.append(
                    tr(
                        lang,
                        "命名空间 `{n}` 已经不存在了，这是最新的列表。",
                        "Namespace `{n}` no longer exists; here is the current list.",
                        n=ns,
                    )
                )
                turn.state.flow = flow
                await self.ask(turn, flow, "namespace", full=True)
                return True
        # blame the parameter the error names ("container 'sidecar' not found in pod 'web-…'"), else the first
        said = out.error or ""
        slots = sorted(OBJECT_SLOTS, key=lambda p: f"{meaning(info, p)} '{flow.args.get(p)}' not found" not in said)
        for p in slots:
            value = flow.args.get(p)
            what = meaning(info, p)
            if isinstance(value, str) and what:
                flow.args.pop(p)
                current = await self._names(turn, flow, what, fresh=True) or []
                flow.hints.setdefault(p, value)  # a fragment ("cart-service") still narrows the fresh list
                if any(value in n for n in current):  # "/logs orders": a part of a name, not a vanished object
                    said_it = tr(
                        lang,
                        "`{v}` 不是完整的{w}名，按包含它的名字来找。",
                        "`{v}` is not a full {w} name; looking for names containing it.",
                        w=what_label(lang, what),
                        v=value,
                    )
                else:
                    said_it = tr(
                        lang,
                        "{w} `{v}` 不存在（可能已被删除）。",
                        "{w} `{v}` was not found (it may be gone).",
                        w=what_label(lang, what),
                        v=value,
                    ) + did_you_mean(lang, value, current)
                turn.notes.append(said_it)
                turn.state.flow = flow
                await self.ask(turn, flow, p)
                return True
        return False
