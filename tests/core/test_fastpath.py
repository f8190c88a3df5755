"""bot/fastpath.py: `kubeduty demo` and `kubeduty mcp serve` (stdio) start without typer, and take exactly the
options the typer verbs declare; anything else is the typer CLI's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from bot import cli
from bot.fastpath import _mcp_serve_stdio, _user_only

REPO_ROOT = Path(__file__).resolve().parents[2]


def options(*path: str) -> set[str]:
    """The option names of a verb as the typer CLI builds it (typer ships its own click: duck-typed here)."""
    command: Any = typer.main.get_command(cli.app)
    for name in path:
        command = command.commands[name]
    return {p.name for p in command.params if p.name}


def test_the_fast_verbs_know_every_option_their_typer_verbs_declare() -> None:
    # A new option on one of these verbs must be taught to bot/fastpath.py (or the fast path would ignore it).
    assert options("demo") == {"user"}
    assert options("mcp", "serve") == {"transport", "host", "port", "read_only"}


def test_only_the_exact_shapes_take_the_fast_path() -> None:
    assert _user_only([]) == (True, None)
    assert _user_only(["--user", "alice"]) == (True, "alice")
    assert _user_only(["--user=bob"]) == (True, "bob")
    assert _user_only(["--help"])[0] is False and _user_only(["--user"])[0] is False
    assert _mcp_serve_stdio([]) is True and _mcp_serve_stdio(["--allow-mutations"]) is False
    assert _mcp_serve_stdio(["--transport", "stdio", "--read-only"]) is True
    assert _mcp_serve_stdio(["--transport", "http"]) is None and _mcp_serve_stdio(["--help"]) is None


def test_a_shape_the_fast_path_does_not_take_still_gets_the_typer_answer() -> None:
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull, "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--bogus"], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 2 and "--bogus" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "mcp", "serve", "--transport", "carrier-pigeon"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2 and "unknown transport" in proc.stderr


def test_the_demo_answers_through_the_fast_path_with_a_chosen_user() -> None:
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull, "NO_COLOR": "1"}
    env = {k: v for k, v in env.items() if not k.startswith(("LLM_", "KUBE", "REDIS"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--user=alice"],
        input="/pods dev\n",
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "payment-api" in proc.stdout
