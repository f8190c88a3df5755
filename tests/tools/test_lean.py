"""Start-up loads what the first message needs and nothing it does not: no LLM client without an LLM, no MCP
library without an MCP server configured, and the Kubernetes client loaded before the first message."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter (a clean sys.modules) and return the JSON it prints last."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,  # a loaded CI box without bytecode imports slowly; this only stops a hang
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_a_bot_without_llm_or_mcp_servers_never_imports_their_libraries(sandbox: Any) -> None:
    out = run_python(
        f"""
        import asyncio, json, sys
        from bot.app import build_bot
        from bot.settings import Settings

        async def main():
            settings = Settings(
                _env_file=None, kubeconfig={str(sandbox.kubeconfig_path)!r}, kube_context="sandbox",
                llm_api_key=None, mcp_config=None, redis_url=None,
            )
            bot = build_bot(settings)
            await bot.start()
            await bot.close()

        asyncio.run(main())
        loaded = [m for m in ("openai", "mcp", "mcp_types") if m in sys.modules]
        print(json.dumps({{"loaded": loaded}}))
        """
    )
    assert out["loaded"] == []


def test_start_up_loads_the_kubernetes_api_classes_so_the_first_message_imports_nothing(sandbox: Any) -> None:
    out = run_python(
        f"""
        import asyncio, json, sys
        from bot.app import build_bot
        from bot.settings import Settings
        from bot.tooling.types import ToolCall

        async def main():
            settings = Settings(
                _env_file=None, kubeconfig={str(sandbox.kubeconfig_path)!r}, kube_context="sandbox",
                llm_api_key=None, mcp_config=None, redis_url=None,
            )
            bot = build_bot(settings)
            before_start = "kubernetes.aio.client.api.core_v1_api" in sys.modules
            await bot.start()
            started = set(sys.modules)
            result = await bot.gateway.call(ToolCall("list_pods", {{"namespace": "dev"}}))
            new = sorted(m for m in set(sys.modules) - started if m.startswith("kubernetes"))
            await bot.close()
            return before_start, result.ok, new

        before_start, ok, new = asyncio.run(main())
        print(json.dumps({{"before_start": before_start, "ok": ok, "new": new}}))
        """
    )
    assert out == {"before_start": False, "ok": True, "new": []}


def test_listing_the_catalogue_needs_no_kubernetes_client() -> None:
    out = run_python(
        """
        import json, sys
        from tools.catalogue import CATALOGUE
        from tools.mcp_server import build_server
        from tools.k8s.client import KubeClients

        server = build_server(kube=KubeClients(kubeconfig="/nonexistent"), read_only=True)
        schemas = [spec.input_schema() for spec in CATALOGUE.values()]
        print(json.dumps({"tools": len(schemas), "kubernetes": sorted(m for m in sys.modules if m.startswith(("kubernetes", "aiohttp")))}))
        """
    )
    assert out["tools"] > 10 and out["kubernetes"] == []
