"""The `kubeduty` console script: `--version` and the verbs issue 2 promises, as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

KUBEDUTY = str(Path(sys.executable).with_name("kubeduty"))


def kubeduty(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([KUBEDUTY, *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def test_version_prints_the_installed_distribution_version() -> None:
    proc = kubeduty("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"kubeduty {version('kubeduty')}"


def test_the_promised_verbs_exist() -> None:
    top = kubeduty("--help")
    assert top.returncode == 0, top.stderr
    for verb in ("demo", "chat", "run", "sandbox", "mcp"):
        assert f" {verb} " in top.stdout, verb
    serve = kubeduty("sandbox", "serve", "--help")
    assert serve.returncode == 0 and "--port" in serve.stdout and "--kubeconfig-out" in serve.stdout
    mcp = kubeduty("mcp", "serve", "--help")
    assert mcp.returncode == 0 and "--transport" in mcp.stdout
    assert "--read-only" in mcp.stdout and "--allow-mutations" in mcp.stdout


def test_an_unknown_verb_fails_with_a_usage_message_not_a_stack_trace() -> None:
    proc = kubeduty("frobnicate")
    assert proc.returncode != 0
    assert "frobnicate" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
