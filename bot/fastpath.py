"""Verbs of `kubeduty` that must start fast, parsed by hand before `bot/cli.py` imports typer.

`kubeduty mcp serve` over stdio is spawned by MCP clients that wait for its tool list, and `kubeduty demo` is
the first thing a new user runs; typer and its option parsing cost ~0.1 s of CPU before either could start.
Only the exact shapes below are handled here, calling what the typer verbs call; anything else (help, other
flags, a typo) falls through to the typer CLI, which owns the messages. tests/core/test_fastpath.py keeps the
shapes in step with the options the typer verbs declare.
"""

from __future__ import annotations

import sys


def _mcp_serve_stdio(args: list[str]) -> bool | None:
    """`read_only` for `mcp serve [--transport stdio] [--read-only|--allow-mutations]`, None for anything else."""
    read_only = True
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--transport" and i + 1 < len(args) and args[i + 1] == "stdio":
            i += 2
            continue
        if arg == "--transport=stdio":
            pass
        elif arg == "--read-only":
            read_only = True
        elif arg == "--allow-mutations":
            read_only = False
        else:
            return None
        i += 1
    return read_only


def _user_only(args: list[str]) -> tuple[bool, str | None]:
    """(matched, user) for `[--user NAME | --user=NAME]`."""
    if not args:
        return True, None
    if len(args) == 2 and args[0] == "--user" and not args[1].startswith("-"):
        return True, args[1]
    if len(args) == 1 and args[0].startswith("--user=") and len(args[0]) > len("--user="):
        return True, args[0].removeprefix("--user=")
    return False, None


def fast_path(argv: list[str]) -> None:
    """Run the command and exit if it is one of the fast verbs; return (doing nothing) otherwise."""
    if argv[:1] == ["demo"]:
        matched, user = _user_only(argv[1:])
        if matched:
            from bot.app import run_demo

            sys.exit(run_demo(user=user))
    if argv[:2] == ["mcp", "serve"]:
        read_only = _mcp_serve_stdio(argv[2:])
        if read_only is not None:
            from tools.mcp_front import serve_stdio

            sys.exit(serve_stdio(read_only=read_only))
