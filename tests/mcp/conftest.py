"""Fixtures of the MCP tests: the installed peers, our server as a real subprocess, kube clients on the sandbox."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.peers import PeerInstallError, ensure_peers, inspector_bin, kubernetes_mcp_server_bin
from tools.k8s.client import KubeClients

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def peers() -> dict[str, Path]:
    """kubernetes-mcp-server and the MCP inspector, installed into .peers/ if missing (a failure fails the test)."""
    try:
        ensure_peers(quiet=True)
    except PeerInstallError as exc:
        pytest.fail(str(exc))
    return {"kubernetes-mcp-server": kubernetes_mcp_server_bin(), "inspector": inspector_bin()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early with code {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {within}s")


def serve_env(kubeconfig: str | Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["KUBECONFIG"] = str(kubeconfig)
    return env


def serve_args(*extra: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "mcp", "serve", *extra]


class HttpServer:
    """`kubeduty mcp serve --transport http` as a real process that a test may kill and start again."""

    def __init__(self, kubeconfig: str | Path, *flags: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._env = serve_env(kubeconfig)
        self._flags = flags
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            serve_args("--transport", "http", "--port", str(self.port), *self._flags),
            env=self._env,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def http_server(sandbox: Any) -> Iterator[Callable[..., HttpServer]]:
    made: list[HttpServer] = []

    def make(*flags: str, start: bool = True) -> HttpServer:
        srv = HttpServer(sandbox.kubeconfig_path, *flags)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in made:
        srv.kill()


@pytest.fixture
async def kube(sandbox: Any) -> AsyncIterator[KubeClients]:
    k = KubeClients(kubeconfig=sandbox.kubeconfig_path, timeout_seconds=5.0)
    yield k
    await k.close()
