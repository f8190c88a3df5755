"""Installs the third-party peers the tests run against, project-locally in `.peers/` (run by `make test`).

- `kubernetes-mcp-server` (npm; the package ships the Go binary for this platform as an optional dependency, so
  nothing is downloaded at run time, unlike the PyPI wheel which fetches it and fails offline);
- `@modelcontextprotocol/inspector` (npm), a real MCP client whose `--cli` mode checks the server we expose.

Idempotent and quick: when the pinned versions are already there it only reads two package.json files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = REPO_ROOT / ".peers"

# Pinned: a new release of either can change tool names, flags or protocol behaviour under the tests.
PINNED: dict[str, str] = {
    "kubernetes-mcp-server": "0.0.67",
    "@modelcontextprotocol/inspector": "0.21.1",
}


class PeerInstallError(RuntimeError):
    pass


def _installed_version(package: str) -> str | None:
    manifest = PEERS_DIR / "node_modules" / package / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("version") or "") or None
    except (OSError, ValueError):
        return None


def kubernetes_mcp_server_bin() -> Path:
    return PEERS_DIR / "node_modules" / ".bin" / "kubernetes-mcp-server"


def inspector_bin() -> Path:
    return PEERS_DIR / "node_modules" / ".bin" / "mcp-inspector"


def missing() -> list[str]:
    """The `name@version` specs that are not installed at their pinned version."""
    out = [f"{name}@{ver}" for name, ver in PINNED.items() if _installed_version(name) != ver]
    if not out and not (kubernetes_mcp_server_bin().exists() and inspector_bin().exists()):
        out = [f"{name}@{ver}" for name, ver in PINNED.items()]
    return out


def _binary_runs() -> bool:
    """The npm wrapper finds the platform binary from its optional dependency; a skipped optional install
    (e.g. `--omit=optional` in someone's npmrc) leaves a wrapper that fails at run time."""
    try:
        proc = subprocess.run(
            [str(kubernetes_mcp_server_bin()), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and PINNED["kubernetes-mcp-server"] in proc.stdout


def ensure_peers(*, quiet: bool = False) -> None:
    """Install whatever is missing; raise PeerInstallError with a clear message when that is impossible."""
    todo = missing()
    if not todo and _binary_runs():
        if not quiet:
            print(f"peers ok in {PEERS_DIR}: " + ", ".join(f"{n}@{v}" for n, v in PINNED.items()))
        return
    npm = shutil.which("npm")
    if npm is None:
        raise PeerInstallError(
            "npm is not installed, so the MCP peers (kubernetes-mcp-server, @modelcontextprotocol/inspector) "
            "cannot be installed into .peers/. Install Node.js and npm (apt-get install nodejs npm) and rerun."
        )
    specs = [f"{name}@{ver}" for name, ver in PINNED.items()]
    PEERS_DIR.mkdir(exist_ok=True)
    cmd = [npm, "install", "--prefix", str(PEERS_DIR), "--no-audit", "--no-fund", "--save-exact", "--include=optional"]
    if not quiet:
        print("installing MCP peers into .peers/: " + " ".join(specs), flush=True)
    try:
        proc = subprocess.run([*cmd, *specs], capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PeerInstallError(
            "npm install of the MCP peers took more than 10 minutes; is the registry reachable?"
        ) from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise PeerInstallError(f"npm install of {' '.join(specs)} failed (exit {proc.returncode}):\n{tail}")
    if missing() or not _binary_runs():
        raise PeerInstallError(
            "npm install finished but kubernetes-mcp-server does not run from .peers/ "
            "(its platform package may be missing for this OS/CPU)."
        )


def main() -> None:
    try:
        ensure_peers()
    except PeerInstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
