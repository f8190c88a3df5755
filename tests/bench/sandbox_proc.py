"""The sandbox cluster in its own process, timed at the sandbox (for the benchmarks).

`SandboxProcess` starts `python -m tests.bench.sandbox_proc SEED [NAMESPACES PODS]`: the bot process under
measurement then holds no sandbox thread, so its CPU time is its own. A middleware put in front of the sandbox's
own (before it starts; no change to `tools/sandbox`) adds up the wall time spent handling each API request;
`GET /__bench/timing` reads the totals. A benchmark subtracts that time, measured where it is spent, from the
bot's wall latency instead of estimating it.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

TIMING_PATH = "/__bench/timing"
REPO_ROOT = Path(__file__).resolve().parents[2]


class _Timing:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == TIMING_PATH:
            return web.json_response({"seconds": self.seconds, "requests": self.requests})
        start = time.perf_counter()
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            self.seconds += time.perf_counter() - start
            self.requests += 1


def _serve(seed: str, namespaces: int, pods: int) -> None:
    from tools.sandbox.handle import SandboxHandle
    from tools.sandbox.seed import build

    timing = _Timing()
    handle = SandboxHandle(build(seed, namespaces=namespaces, pods=pods), host="127.0.0.1", port=0)
    handle.server.app.middlewares.insert(0, timing.middleware)  # outermost: everything the sandbox does
    handle.start()
    print(json.dumps({"url": handle.url, "kubeconfig": str(handle.kubeconfig_path)}), flush=True)
    try:
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)
    finally:
        handle.stop()


class SandboxProcess:
    def __init__(self, seed: str = "demo", *, namespaces: int = 10, pods: int = 1000) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONPYCACHEPREFIX")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.sandbox_proc", seed, str(namespaces), str(pods)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until it listens (seeding 10,000 pods takes a while)
        if not line:
            raise RuntimeError(f"the sandbox process exited with {self.proc.wait()}")
        info = json.loads(line)
        self.url: str = info["url"]
        self.kubeconfig_path = Path(info["kubeconfig"])
        self._ssl = ssl.create_default_context()
        self._ssl.check_hostname = False
        self._ssl.verify_mode = ssl.CERT_NONE  # loopback, our own sandbox: only the timing counter is read

    def timing(self) -> tuple[float, int]:
        """(seconds spent handling requests, requests handled) since the sandbox started."""
        with urllib.request.urlopen(self.url + TIMING_PATH, context=self._ssl, timeout=60) as resp:
            doc = json.loads(resp.read())
        return float(doc["seconds"]), int(doc["requests"])

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
