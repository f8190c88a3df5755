"""The image starts from bytecode: the venv (bot, tools, dependencies) compiled at build, the standard library
compiled in the final stage (the official python images ship it without bytecode, and the unprivileged user on a
read-only root cannot write __pycache__), and the MCP discovery answers captured from the installed SDK."""

from __future__ import annotations

from tests.deploy.manifests import DEPLOY


def stages() -> list[list[str]]:
    """Each stage's instructions, continuation lines joined, comments dropped."""
    out: list[list[str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.upper().startswith("FROM "):
            out.append([])
        out[-1].append(line)
    return out


def test_the_final_stage_compiles_the_standard_library_before_dropping_root() -> None:
    final = stages()[-1]
    compile_at = next(i for i, line in enumerate(final) if "compileall" in line and "stdlib" in line)
    user_at = next(i for i, line in enumerate(final) if line.upper().startswith("USER "))
    assert compile_at < user_at
    assert any(line.startswith("ENV ") and "PYTHONDONTWRITEBYTECODE=1" in line for line in final)


def test_the_build_stage_compiles_the_venv_after_capturing_the_mcp_listing() -> None:
    build = " ".join(stages()[0])
    assert "python -m tools.mcp_listing" in build and "compileall" in build
    assert build.index("python -m tools.mcp_listing") < build.index("compileall -q -j 0 /app/.venv/lib")
