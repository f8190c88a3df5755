"""A real `kubeduty run` process for tests and benchmarks: its environment, its probe port, a platform that is
down (a listener that accepts connections and never answers), and a clean SIGTERM stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.channels.emulators.dingtalk import DingTalkEmulator

STARTUP_WITHIN = 90.0  # a fresh interpreter importing both SDKs on a loaded 2-core box


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StalledServer:
    """Accepts TCP connections and never answers: a platform that is down the slow way (requests hang until
    the client's own timeout). `close()` resets the queued connections, so the hung calls end at once."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._sock.close()


@contextlib.contextmanager
def stalled_server() -> Iterator[StalledServer]:
    server = StalledServer()
    try:
        yield server
    finally:
        server.close()


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "FEISHU_", "REDIS_", "LLM_"))}
    env |= {
        "KUBEDUTY_ENV_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "KEY_PREFIX": f"kdtest-{uuid.uuid4().hex[:10]}",
        "ACTION_SECRET": uuid.uuid4().hex * 2,
        "LLM_API_KEY": "",
        "AUDIT_LOG_PATH": "",
    }
    return env | extra


def dingtalk_env(emu: DingTalkEmulator) -> dict[str, str]:
    return {
        "DINGTALK_CLIENT_ID": emu.client_id,
        "DINGTALK_CLIENT_SECRET": emu.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": emu.url,
        "DINGTALK_CARD_TEMPLATE_ID": emu.template_id,
    }


def feishu_down_env(url: str) -> dict[str, str]:
    return {"FEISHU_APP_ID": "cli_down", "FEISHU_APP_SECRET": "secret", "FEISHU_DOMAIN": url}


@dataclass
class RunningBot:
    proc: asyncio.subprocess.Process
    port: int
    log_path: Path
    started: float  # time.monotonic() just before the process was spawned

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def get(self, path: str) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(self.base + path) as resp:
            body: Any = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, body

    async def wait_answer(self, path: str, within: float = STARTUP_WITHIN) -> tuple[int, Any]:
        """Polls until the probe server answers at all (any status), failing early if the process died."""
        deadline = time.monotonic() + within
        while True:
            if self.proc.returncode is not None:
                raise AssertionError(f"kubeduty run exited {self.proc.returncode}:\n{self.output()[-3000:]}")
            try:
                return await self.get(path)
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} never answered:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.05)

    async def wait_status(self, path: str, status: int, within: float = STARTUP_WITHIN) -> Any:
        deadline = time.monotonic() + within
        last: Any = None
        while True:
            got, last = await self.wait_answer(path, within)
            if got == status:
                return last
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} stayed {got}: {last}\n{self.output()[-3000:]}")
            await asyncio.sleep(0.1)

    async def wait_until(self, path: str, check: Callable[[int, Any], bool], within: float = STARTUP_WITHIN) -> Any:
        """Polls `path` until `check(status, body)` holds; returns that body."""
        deadline = time.monotonic() + within
        while True:
            status, body = await self.wait_answer(path, within)
            if check(status, body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: {status} {body}\n{self.output()[-3000:]}")
            await asyncio.sleep(0.1)

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 60)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode


@contextlib.asynccontextmanager
async def kubeduty_run(
    env: dict[str, str], log_path: Path, *, command: Sequence[str] | None = None, cwd: Path | None = None
) -> AsyncIterator[RunningBot]:
    port = int(env.get("HEALTH_PORT") or free_port())
    env = env | {"HEALTH_PORT": str(port)}
    argv = list(command or [sys.executable, "-m", "bot.cli", "run"])
    with log_path.open("wb") as log:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd or log_path.parent
        )
        bot = RunningBot(proc, port, log_path, started)
        try:
            yield bot
        finally:
            await bot.stop()
