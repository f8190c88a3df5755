"""Benchmark of the built-in K8s tools against the sandbox (a script: `python -m tests.bench.bench_tools`).

Prints the median wall time and the number of API requests per tool call, on the demo seed and on the scale seed
(10 namespaces x 1000 pods), so changes to paging, retries or conversion show up as numbers.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from tools.catalogue import run_tool
from tools.k8s.client import KubeClients
from tools.sandbox import start_sandbox_thread

RUNS = 5


async def measure(kube: KubeClients, handle: Any, tool: str, args: dict[str, Any]) -> tuple[float, int, str]:
    times = []
    requests = 0
    note = ""
    for _ in range(RUNS):
        handle.cluster.reset_requests()
        start = time.perf_counter()
        result = await run_tool(kube, tool, args)
        times.append(time.perf_counter() - start)
        requests = len(handle.cluster.requests)
        total = getattr(result, "total", None)
        items = getattr(result, "items", None)
        if total is not None and items is not None:
            note = f"{len(items)} of {total} items"
        elif hasattr(result, "pods_total"):
            note = f"{result.pods_total} pods"
    return statistics.median(times), requests, note


async def bench(seed: str, calls: list[tuple[str, dict[str, Any]]], **seed_args: Any) -> None:
    handle = start_sandbox_thread(seed=seed, port=0, **seed_args)
    kube = KubeClients(kubeconfig=handle.kubeconfig_path, timeout_seconds=60)
    try:
        print(f"\n## seed={seed} {seed_args or ''} (median of {RUNS} runs)")
        print(f"{'tool':<22} {'args':<48} {'median ms':>10} {'requests':>9}  result")
        for tool, args in calls:
            if args.get("pod") == "__first__":
                first = await run_tool(kube, "list_pods", {"namespace": args["namespace"], "limit": 1})
                args = {**args, "pod": first.items[0].name}  # type: ignore[attr-defined]
            median, requests, note = await measure(kube, handle, tool, args)
            print(f"{tool:<22} {str(args):<48} {median * 1000:>10.1f} {requests:>9}  {note}")
    finally:
        await kube.close()
        handle.stop()


async def main() -> None:
    await bench(
        "demo",
        [
            ("cluster_overview", {}),
            ("list_pods", {"namespace": "dev"}),
            ("list_pods", {"only_unhealthy": True}),
            ("describe_pod", {"namespace": "dev", "pod": "__first__"}),
            ("workload_health", {"namespace": "dev", "name": "payment-api"}),
            ("list_events", {}),
        ],
    )
    await bench(
        "scale",
        [
            ("list_pods", {}),
            ("list_pods", {"namespace": "scale-000"}),
            ("list_pods", {"only_unhealthy": True}),
            ("cluster_overview", {}),
        ],
        namespaces=10,
        pods=1000,
    )


if __name__ == "__main__":
    asyncio.run(main())
