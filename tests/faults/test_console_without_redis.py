"""`kubeduty chat` against a Redis that is down, or a REDIS_URL it cannot use: one clear line, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.redis_topology import free_port

KUBEDUTY = Path(sys.executable).with_name("kubeduty")


def chat(redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "KUBEDUTY_ENV_FILE": os.devnull}
    return subprocess.run(
        [str(KUBEDUTY), "chat"], input="hi\n", capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("redis://127.0.0.1:{port}/0", 1, "is not reachable"),
        ("redis+sentinel://127.0.0.1:{port}/", 2, "master name"),
        ("memcached://127.0.0.1:{port}", 2, "not supported"),
    ],
)
def test_chat_with_an_unusable_redis_says_so_in_one_line(url: str, code: int, says: str) -> None:
    proc = chat(url.format(port=free_port()))
    assert proc.returncode == code
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
