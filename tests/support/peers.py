"""Installs third-party peers the tests run against (project-local, idempotent). Run by `make test`."""

from __future__ import annotations


def main() -> None:
    # Filled in by the MCP work: npm install of kubernetes-mcp-server into .peers/.
    return None


if __name__ == "__main__":
    main()
