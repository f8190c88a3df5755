"""The precomputed answers of `kubeduty mcp serve` to `initialize` and `tools/list` (tools/mcp_listing.json).

`tools/mcp_front.py` answers MCP discovery over stdio from this file before the `mcp` SDK is imported (the SDK
import alone is most of a second of CPU). The answers are not hand-written: they are what the SDK itself sends,
captured by running the real server (`build_server`) over in-memory streams, for every protocol version (the
`initialize` handshake era and the 2026 per-request-envelope era: `server/discover`) and for both modes
(read-only, read-write). The file carries a fingerprint of what the answers depend on
(the catalogue, the models, the server adapter, this module, the SDK and pydantic versions); the front uses the
file only when the fingerprint matches, otherwise it starts the SDK as before (slower, never wrong).

Regenerate after changing a tool (a test fails until then):
    .venv/bin/python -m tools.mcp_listing
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio

from tools.mcp_front import (
    CLIENT_CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    LISTING_PATH,
    MODES,
    PROTOCOL_VERSION_KEY,
    SERVER_INFO_KEY,
    SERVER_VERSION_PLACEHOLDER,
    fingerprint,
)


async def _exchange(read_only: bool, requests: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The real server's answers (by id) to `requests`, serialised exactly as the SDK's stdio transport writes."""
    from mcp.shared.message import SessionMessage
    from mcp_types import jsonrpc_message_adapter

    from tools.mcp_server import build_server

    server = build_server(kube=None, read_only=read_only)
    lowlevel = server._lowlevel_server  # as tools/mcp_stdio.py runs it
    to_server, server_in = anyio.create_memory_object_stream[SessionMessage | Exception](8)
    server_out, from_server = anyio.create_memory_object_stream[SessionMessage](8)
    answers: dict[int, dict[str, Any]] = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(lowlevel.run, server_in, server_out, lowlevel.create_initialization_options())
        for req in requests:
            await to_server.send(SessionMessage(jsonrpc_message_adapter.validate_json(json.dumps(req))))
            if "id" in req:
                out = await from_server.receive()
                doc = json.loads(out.message.model_dump_json(by_alias=True, exclude_unset=True))
                answers[doc["id"]] = doc
        await to_server.aclose()
        tg.cancel_scope.cancel()
    for doc in answers.values():
        if "result" not in doc:
            raise RuntimeError(f"the server answered discovery with an error: {doc}")
    return answers


async def _capture(read_only: bool, version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(initialize result, tools/list result) of the real server for a client of the handshake era asking for
    `version`."""
    answers = await _exchange(
        read_only,
        [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "gen", "version": "0"},
                },
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        ],
    )
    init = answers[1]["result"]
    init["serverInfo"]["version"] = SERVER_VERSION_PLACEHOLDER  # filled at run time (the installed version)
    return init, answers[2]["result"]


async def _capture_modern(
    read_only: bool, version: str, capabilities: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(server/discover result, tools/list result) for a client of the 2026 era (a per-request envelope)."""
    meta = {
        PROTOCOL_VERSION_KEY: version,
        CLIENT_INFO_KEY: {"name": "gen", "version": "0"},
        CLIENT_CAPABILITIES_KEY: capabilities or {},
    }
    answers = await _exchange(
        read_only,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta}},
        ],
    )
    results = answers[1]["result"], answers[2]["result"]
    for result in results:
        result["_meta"][SERVER_INFO_KEY]["version"] = SERVER_VERSION_PLACEHOLDER
    return results


async def build() -> dict[str, Any]:
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

    payloads: list[Any] = []

    def index(payload: Any) -> int:  # the answers hardly differ across versions: store each distinct one once
        if payload not in payloads:
            payloads.append(payload)
        return payloads.index(payload)

    modes: dict[str, Any] = {}
    for mode, read_only in MODES.items():
        answers: dict[str, dict[str, int]] = {"initialize": {}, "tools/list": {}, "server/discover": {}, "modern": {}}
        for version in HANDSHAKE_PROTOCOL_VERSIONS:
            init, tools = await _capture(read_only, version)
            answers["initialize"][version] = index(init)
            answers["tools/list"][version] = index(tools)
        for version in MODERN_PROTOCOL_VERSIONS:
            discover, tools = await _capture_modern(read_only, version)
            answers["server/discover"][version] = index(discover)
            answers["modern"][version] = index(tools)
        modes[mode] = answers
    return {
        "fingerprint": fingerprint(),
        "handshake_versions": list(HANDSHAKE_PROTOCOL_VERSIONS),
        "latest_handshake_version": LATEST_HANDSHAKE_VERSION,
        "modern_versions": list(MODERN_PROTOCOL_VERSIONS),
        "modes": modes,
        "payloads": payloads,
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render(anyio.run(build))
    if "--check" in argv:
        current = LISTING_PATH.read_text(encoding="utf-8") if LISTING_PATH.exists() else ""
        if current != text:
            print(f"{LISTING_PATH} is stale: run `python -m tools.mcp_listing`", file=sys.stderr)
            return 1
        return 0
    LISTING_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {Path(LISTING_PATH).name} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
