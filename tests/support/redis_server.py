"""Find a Redis for the tests, or start one: 127.0.0.1:6379 here and on CI; a fresh machine gets its own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import redis


@dataclass
class RedisHandle:
    url: str
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_redis() -> RedisHandle:
    url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
    if _answers(url):
        return RedisHandle(url)
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError(
            f"No Redis answers at {url} and `redis-server` is not installed. "
            "Install it (apt-get install redis-server) or set REDIS_TEST_URL to a Redis the tests may use."
        )
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="kubeduty-redis-")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _answers(url):
            return RedisHandle(url, proc)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"started redis-server on port {port} but it did not answer")
