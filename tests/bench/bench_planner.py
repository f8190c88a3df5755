"""Planner figures: loop overhead per turn over real HTTP (scripted LLM), output bounding, tool selection.

Run: .venv/bin/python -m tests.bench.bench_planner
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bot.agent.budget import render_data
from bot.agent.planner import OpenAIPlanner
from bot.agent.selection import select_tools
from bot.core.i18n import Lang
from bot.settings import load_settings
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome
from tests.support.llm_server import ScriptedLLM, text, tool_call
from tools.k8s.models import ListPodsParams

TURNS = 200


def _pods(n: int) -> dict[str, object]:
    items = [
        {"namespace": "shop", "name": f"cart-7d9f8-{i:05d}", "phase": "Running", "status": "Running", "ready": "1/1"}
        for i in range(n)
    ]
    return {"items": items, "total": n}


async def _loop_overhead(llm: ScriptedLLM, *, stream: bool) -> list[float]:
    settings = load_settings(llm_base_url=llm.base_url, llm_api_key="k", llm_model="m", llm_max_steps=4)
    planner = OpenAIPlanner(settings, max_retries=0, progress_interval=0.5)
    info = ToolInfo("list_pods", "list pods", ListPodsParams.model_json_schema(), mutates=False)
    data = _pods(50)

    async def call_tool(call: ToolCall) -> ToolOutcome:
        return ToolOutcome(ok=True, data=data)

    async def progress(_: str) -> None:
        return None

    timings = []
    for _ in range(TURNS):
        llm.script(tool_call("list_pods", {"namespace": "shop"}), text("shop has 50 pods, all Running. " * 4))
        t0 = time.perf_counter()
        turn = await planner.run(
            text="pods in shop",
            lang=Lang.EN,
            tools=[info],
            call_tool=call_tool,
            history=[],
            context={},
            on_progress=progress if stream else None,
        )
        timings.append((time.perf_counter() - t0) * 1000)
        assert turn.failed is None, turn.failed
    await planner.aclose()
    return timings


def main() -> None:
    llm = ScriptedLLM().start()
    try:
        for stream in (False, True):
            t = asyncio.run(_loop_overhead(llm, stream=stream))
            p95 = statistics.quantiles(t, n=20)[18]
            print(
                f"planner turn (2 LLM requests + 1 read), stream={stream}: "
                f"median {statistics.median(t):.2f} ms, p95 {p95:.2f} ms over {TURNS} turns"
            )
    finally:
        llm.stop()

    big = _pods(5_000)
    t0 = time.perf_counter()
    for _ in range(20):
        out = render_data(big, 4_000)
    print(
        f"bounding a 5,000-pod list to 4,000 chars: {(time.perf_counter() - t0) / 20 * 1000:.1f} ms ({len(out)} chars)"
    )

    from bot.tooling.builtin import tool_info
    from tools.catalogue import CATALOGUE

    real = [tool_info(s) for s in CATALOGUE.values()]
    t0 = time.perf_counter()
    for _ in range(2_000):
        select_tools("checkout 为什么挂了？看下日志", real, limit=8)
    print(f"select_tools over {len(real)} tools: {(time.perf_counter() - t0) / 2_000 * 1e6:.0f} us per call")


if __name__ == "__main__":
    main()
