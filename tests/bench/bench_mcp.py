"""Benchmark of the MCP paths (a script: `python -m tests.bench.bench_mcp`), against the sandbox cluster.

Prints:
- tool discovery time (start + handshake + tools/list) of our server in-process, over stdio and over streamable
  HTTP, and of kubernetes-mcp-server over stdio (the seed system took ~30 s for 17 tools);
- the per-call overhead of the in-process MCP path against calling the tool function directly (median over many
  `list_namespaces` calls), and of the stdio path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.tooling.mcp_config import McpServerConfig
from bot.tooling.mcp_source import McpSource
from bot.tooling.types import ToolCall
from tests.support.peers import ensure_peers, kubernetes_mcp_server_bin
from tools.catalogue import run_tool
from tools.k8s.client import KubeClients
from tools.mcp_server import build_server
from tools.sandbox import start_sandbox_thread

REPO_ROOT = Path(__file__).resolve().parents[2]
CALLS = 300


def serve_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "mcp", "serve", *extra]


async def wait_for_port(port: int) -> None:
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"the HTTP MCP server did not listen on {port}")


async def discovery(make: Callable[[], McpSource], runs: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(runs):
        source = make()
        start = time.perf_counter()
        tools = await source.list_tools()
        times.append(time.perf_counter() - start)
        count = len(tools)
        if not source.status().healthy:
            raise RuntimeError(f"{source.name} did not come up: {source.status().error}")
        await source.aclose()
    return statistics.median(times), count


async def per_call(fn: Callable[[], Awaitable[Any]], calls: int) -> float:
    for _ in range(10):  # warm up connections and caches
        await fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    ensure_peers(quiet=True)
    handle = start_sandbox_thread(seed="demo", port=0)
    kubeconfig = str(handle.kubeconfig_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")} | {"KUBECONFIG": kubeconfig}
    kube = KubeClients(kubeconfig=kubeconfig, timeout_seconds=10)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = int(s.getsockname()[1])
    http = await asyncio.create_subprocess_exec(
        *serve_cmd("--transport", "http", "--port", str(http_port)),
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        print("MCP tool discovery (start + handshake + tools/list), median")
        rows = [
            (
                "kubeduty in-process",
                lambda: McpSource.in_process(build_server(kube=kube, read_only=False)),
                20,
            ),
            (
                "kubeduty stdio (new process)",
                lambda: McpSource(
                    McpServerConfig(
                        name="kd", command=sys.executable, args=serve_cmd("--transport", "stdio")[1:], env=env
                    )
                ),
                3,
            ),
            (
                "kubeduty streamable HTTP",
                lambda: McpSource(McpServerConfig(name="kd", url=f"http://127.0.0.1:{http_port}/mcp")),
                5,
            ),
            (
                "kubernetes-mcp-server stdio",
                lambda: McpSource(
                    McpServerConfig(
                        name="k8smcp",
                        command=str(kubernetes_mcp_server_bin()),
                        args=["--kubeconfig", kubeconfig],
                        startup_wait_seconds=60,
                    )
                ),
                5,
            ),
        ]
        await wait_for_port(http_port)
        for label, make, runs in rows:
            seconds, count = await discovery(make, runs)
            print(f"  {label:32s} {seconds * 1000:8.1f} ms  {count:3d} tools  ({runs} runs)")

        print(f"\nPer-call time of list_namespaces, median of {CALLS} calls")
        direct = await per_call(lambda: run_tool(kube, "list_namespaces", {}), CALLS)
        inproc = McpSource.in_process(build_server(kube=kube, read_only=False))
        await inproc.list_tools()
        via_mcp = await per_call(lambda: inproc.call(ToolCall("list_namespaces", {})), CALLS)
        await inproc.aclose()
        stdio = McpSource(
            McpServerConfig(name="kd", command=sys.executable, args=serve_cmd("--transport", "stdio")[1:], env=env)
        )
        await stdio.list_tools()
        via_stdio = await per_call(lambda: stdio.call(ToolCall("kd_list_namespaces", {})), CALLS // 3)
        await stdio.aclose()
        print(f"  direct run_tool                  {direct * 1000:8.2f} ms")
        print(f"  McpSource in-process             {via_mcp * 1000:8.2f} ms  (+{(via_mcp - direct) * 1000:.2f} ms)")
        print(f"  McpSource stdio                  {via_stdio * 1000:8.2f} ms  (+{(via_stdio - direct) * 1000:.2f} ms)")
    finally:
        http.kill()
        await http.wait()
        await kube.close()
        handle.stop()


if __name__ == "__main__":
    asyncio.run(main())
