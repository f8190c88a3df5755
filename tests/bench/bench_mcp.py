"""MCP side by side (a script: `python -m tests.bench.bench_mcp [RUNS]`): our `kubeduty mcp serve` and
kubernetes-mcp-server on the same sandbox cluster (its own process), over stdio and streamable HTTP.

For each server and transport, interleaved run by run, median of RUNS (default 7):
- discovery: stdio = spawn the server + initialize + tools/list; HTTP = connect + initialize + tools/list to a
  server already listening (an HTTP server is started once, like a deployment);
- one call: list the pods of namespace `dev` (ours: `list_pods`; theirs: `pods_list_in_namespace`), on the
  session just opened (its first call: for stdio this includes loading the Kubernetes client).
Also the per-call cost of the in-process MCP path against the direct call the bot now makes.
Our stdio server answers discovery from tools/mcp_front.py before the SDK loads (the SDK's own client sends the
2026 `server/discover` + `tools/list`); the first call then waits for the SDK and the Kubernetes client.
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

from bot.tooling.builtin import BuiltinSource
from bot.tooling.mcp_config import McpServerConfig
from bot.tooling.mcp_source import McpSource
from bot.tooling.types import ToolCall
from tests.bench.sandbox_proc import SandboxProcess
from tests.support.peers import ensure_peers, kubernetes_mcp_server_bin
from tools.k8s.client import KubeClients
from tools.mcp_server import build_server

REPO_ROOT = Path(__file__).resolve().parents[2]
CALLS = 300
# Generous: on a loaded machine without bytecode a Python server needs many seconds; the figure is the point.
WAIT = {"startup_wait_seconds": 300, "connect_timeout_seconds": 300, "timeout_seconds": 300}


def serve_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "mcp", "serve", *extra]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for_port(port: int) -> None:
    for _ in range(1200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"nothing listens on {port}")


def stdio_server_cpu(skip: set[int]) -> float:
    """CPU seconds (user + system) used so far by our stdio server children (/proc): on a loaded machine the
    wall time of a start-up mostly measures the other load, its CPU time does not."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        if int(fields[1]) == os.getpid() and pid not in skip:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def discover_and_call(
    make: Callable[[], McpSource], call: ToolCall, skip: set[int]
) -> tuple[float, float, int, float]:
    """(discovery seconds, first call seconds, tools listed, CPU seconds of a stdio server to its listing)."""
    source = make()
    try:
        start = time.perf_counter()
        tools = await source.list_tools()
        listed = time.perf_counter()
        cpu = stdio_server_cpu(skip)
        if not source.status().healthy:
            raise RuntimeError(f"{source.name} did not come up: {source.status().error}")
        out = await source.call(call)
        done = time.perf_counter()
        if not out.ok:
            raise RuntimeError(f"{source.name}: {call.tool} failed: {out.error}")
        return listed - start, done - listed, len(tools), cpu
    finally:
        await source.aclose()


async def per_call(fn: Callable[[], Awaitable[Any]], calls: int) -> float:
    for _ in range(10):  # warm up connections and caches
        await fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def main(runs: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    ensure_peers(quiet=True)
    sandbox = SandboxProcess("demo")
    kubeconfig = str(sandbox.kubeconfig_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")} | {"KUBECONFIG": kubeconfig}
    k8smcp = str(kubernetes_mcp_server_bin())
    ours_port, theirs_port = free_port(), free_port()
    servers = [
        await asyncio.create_subprocess_exec(
            *serve_cmd("--transport", "http", "--port", str(ours_port)),
            env=env,
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        ),
        await asyncio.create_subprocess_exec(
            k8smcp,
            "--kubeconfig",
            kubeconfig,
            "--port",
            str(theirs_port),
            "--bind-address",
            "127.0.0.1",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        ),
    ]
    ours_call = ToolCall("kd_list_pods", {"namespace": "dev"})
    theirs_call = ToolCall("k8s_pods_list_in_namespace", {"namespace": "dev"})
    rows: list[tuple[str, Callable[[], McpSource], ToolCall]] = [
        (
            "kubeduty stdio",
            lambda: McpSource(
                McpServerConfig(name="kd", command=sys.executable, args=serve_cmd()[1:], env=env, **WAIT)
            ),
            ours_call,
        ),
        (
            "kubernetes-mcp-server stdio",
            lambda: McpSource(McpServerConfig(name="k8s", command=k8smcp, args=["--kubeconfig", kubeconfig], **WAIT)),
            theirs_call,
        ),
        (
            "kubeduty HTTP",
            lambda: McpSource(McpServerConfig(name="kd", url=f"http://127.0.0.1:{ours_port}/mcp", **WAIT)),
            ours_call,
        ),
        (
            "kubernetes-mcp-server HTTP",
            lambda: McpSource(McpServerConfig(name="k8s", url=f"http://127.0.0.1:{theirs_port}/mcp", **WAIT)),
            theirs_call,
        ),
    ]
    kube = KubeClients(kubeconfig=kubeconfig, timeout_seconds=30)
    try:
        await wait_for_port(ours_port)
        await wait_for_port(theirs_port)
        results: dict[str, list[tuple[float, float, int, float]]] = {label: [] for label, _, _ in rows}
        skip = {p.pid for p in servers} | {os.getpid(), sandbox.proc.pid}
        for _ in range(runs):  # interleaved: the machine's load changes under all rows alike
            for label, make, call in rows:
                results[label].append(await discover_and_call(make, call, skip))
        print(f"MCP discovery (start/connect + initialize + tools/list) and one call (pods in dev), median of {runs}:")
        for label, values in results.items():
            disc = [v[0] for v in values]
            call_s = [v[1] for v in values]
            cpu = (
                f"   server CPU to listing {statistics.median(v[3] for v in values) * 1000:6.0f} ms"
                if "stdio" in label
                else ""
            )
            print(
                f"  {label:28s} discovery {statistics.median(disc) * 1000:8.1f} ms (min {min(disc) * 1000:7.1f})"
                f"   first call {statistics.median(call_s) * 1000:7.1f} ms   {values[0][2]:3d} tools{cpu}"
            )
        ours, theirs = results["kubeduty stdio"], results["kubernetes-mcp-server stdio"]
        ratio = statistics.median(v[0] for v in ours) / statistics.median(v[0] for v in theirs)
        print(f"  stdio discovery, ours / kubernetes-mcp-server: {ratio:.1f}x   (target: ours <= 300 ms)")

        print(f"\nPer call of list_namespaces, median of {CALLS}: the bot's direct call vs the in-process MCP hop")
        direct_source = BuiltinSource(kube)
        direct = await per_call(lambda: direct_source.call(ToolCall("list_namespaces", {})), CALLS)
        inproc = McpSource.in_process(build_server(kube=kube, read_only=False))
        await inproc.list_tools()
        via_mcp = await per_call(lambda: inproc.call(ToolCall("list_namespaces", {})), CALLS)
        await inproc.aclose()
        print(f"  BuiltinSource (direct, what the bot uses)  {direct * 1000:7.2f} ms")
        print(
            f"  McpSource in-process                       {via_mcp * 1000:7.2f} ms  (+{(via_mcp - direct) * 1000:.2f} ms)"
        )
    finally:
        for proc in servers:
            proc.kill()
            await proc.wait()
        await kube.close()
        sandbox.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
