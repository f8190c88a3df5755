"""The stdio front of `kubeduty mcp serve` (tools/mcp_front.py): discovery answered before the SDK loads, the
same answers the SDK gives, and a clean hand-over to the SDK for everything else."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

import tools.mcp_front as front
from tests.mcp.conftest import REPO_ROOT, serve_args, serve_env
from tools import mcp_listing
from tools.catalogue import CATALOGUE
from tools.k8s.client import KubeClients
from tools.mcp_server import _version, build_server

READS = sorted(n for n, s in CATALOGUE.items() if not s.mutates)


def initialize(version: str, request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def exchange(messages: list[Any], *flags: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Write every message at once to a fresh `kubeduty mcp serve`, close stdin, return what it answered."""
    raw = b"".join((m if isinstance(m, bytes) else json.dumps(m).encode()) + b"\n" for m in messages)
    proc = subprocess.run(
        serve_args("--transport", "stdio", *flags),
        input=raw,
        capture_output=True,
        timeout=120,
        env=env or {**os.environ, "KUBECONFIG": os.devnull},
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "Traceback" not in proc.stderr.decode()
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


def test_the_shipped_listing_is_what_the_sdk_answers_today() -> None:
    # Fails after a tool, model or SDK change until `python -m tools.mcp_listing` is run (then the front is used
    # again; meanwhile the SDK answers discovery itself, slower but right).
    assert mcp_listing.main(["--check"]) == 0, "run: .venv/bin/python -m tools.mcp_listing"
    assert front.load_listing(read_only=True) is not None


@pytest.mark.parametrize("flags", [(), ("--allow-mutations",)], ids=["read-only", "read-write"])
def test_the_front_answers_initialize_and_tools_list_as_the_sdk_does_for_every_protocol_version(
    flags: tuple[str, ...],
) -> None:
    read_only = not flags
    for version in [*HANDSHAKE_PROTOCOL_VERSIONS, "1999-01-01"]:
        negotiated = version if version in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        answers = exchange(
            [initialize(version), INITIALIZED, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}], *flags
        )
        want_init, want_tools = anyio.run(mcp_listing._capture, read_only, negotiated)
        want_init["serverInfo"]["version"] = _version()
        assert [a["id"] for a in answers] == [1, 2]
        assert answers[0]["result"] == want_init
        assert answers[1]["result"] == want_tools


def envelope(version: str = "2026-07-28", capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "_meta": {
            front.PROTOCOL_VERSION_KEY: version,
            front.CLIENT_INFO_KEY: {"name": "t", "version": "1"},
            front.CLIENT_CAPABILITIES_KEY: capabilities or {},
        }
    }


@pytest.mark.parametrize("capabilities", [{}, {"roots": {"listChanged": True}}], ids=["no-capabilities", "roots"])
def test_the_front_answers_server_discover_and_tools_list_of_the_2026_envelope_as_the_sdk_does(
    capabilities: dict[str, Any],
) -> None:
    for flags in [(), ("--allow-mutations",)]:
        params = envelope(capabilities=capabilities)
        answers = exchange(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": params},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": params},
            ],
            *flags,
        )
        want = anyio.run(mcp_listing._capture_modern, not flags, "2026-07-28", capabilities)
        for result in want:
            result["_meta"][front.SERVER_INFO_KEY]["version"] = _version()
        assert [a["id"] for a in answers] == [1, 2]
        assert (answers[0]["result"], answers[1]["result"]) == want


def test_the_front_serves_the_discovery_the_sdk_client_sends_without_the_sdk(tmp_path: Path, sandbox: Any) -> None:
    # What the `mcp` SDK client really sends, recorded on its way to a real server ...
    recorded = tmp_path / "stdin.jsonl"
    params = StdioServerParameters(
        command="/bin/sh",
        args=["-c", f"tee {recorded} | {' '.join(serve_args('--transport', 'stdio'))}"],
        env=serve_env(sandbox.kubeconfig_path),
        cwd=str(REPO_ROOT),
    )

    async def discover() -> None:
        async with Client(params) as client:
            await client.list_tools()

    anyio.run(discover)
    # ... is answered by the front alone: it reaches the end of that input without needing the SDK.
    listing = front.load_listing(read_only=True)
    assert listing is not None
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    os.write(stdin_w, recorded.read_bytes())
    os.close(stdin_w)
    never = front.threading.Event()
    assert front.Front(listing, stdin_fd=stdin_r, stdout_fd=stdout_w).run(never) is None
    os.close(stdout_w)
    os.close(stdin_r)
    with os.fdopen(stdout_r, "rb") as out:
        answers = [json.loads(line) for line in out.read().splitlines()]
    assert answers and all("result" in a for a in answers)
    assert sorted(t["name"] for t in answers[-1]["result"]["tools"]) == READS


def test_requests_pipelined_behind_discovery_are_each_answered_once_by_the_sdk(tmp_path: Path) -> None:
    answers = exchange(
        [
            initialize("2025-06-18"),
            INITIALIZED,
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {"jsonrpc": "2.0", "id": 3, "method": "ping"},
            {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {}},
            {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "list_pods", "arguments": {}}},
            b"{not json",
        ]
    )
    by_id: dict[Any, list[dict[str, Any]]] = {}
    for answer in answers:
        by_id.setdefault(answer.get("id"), []).append(answer)
    assert sorted(k for k in by_id if k is not None) == [1, 2, 3, 4, 5]
    assert all(len(v) == 1 for k, v in by_id.items() if k is not None), answers  # no duplicate from the SDK
    assert by_id[3][0]["result"] == {}
    assert [t["name"] for t in by_id[4][0]["result"]["tools"]] == [t["name"] for t in by_id[2][0]["result"]["tools"]]
    assert by_id[5][0]["result"]["isError"] is True  # no kubeconfig here: a tool error, not a broken session
    assert [a["error"]["code"] for a in by_id[None]] == [front.PARSE_ERROR]


async def test_a_real_sdk_client_lists_and_calls_tools_through_the_front(sandbox: Any, kube: KubeClients) -> None:
    params = StdioServerParameters(
        command=serve_args()[0],
        args=[*serve_args("--transport", "stdio")[1:]],
        env=serve_env(sandbox.kubeconfig_path),
        cwd=str(REPO_ROOT),
    )
    async with Client(params) as client:
        listed = (await client.list_tools()).tools
        result = await client.call_tool("list_pods", {"namespace": "dev"})
        again = await client.call_tool("list_namespaces", {})
    async with Client(build_server(kube=kube)) as in_process:
        direct = (await in_process.list_tools()).tools
    assert sorted(t.name for t in listed) == READS
    assert [t.model_dump() for t in listed] == [t.model_dump() for t in direct]
    assert result.structured_content is not None
    want = sorted(p["metadata"]["name"] for p in sandbox.cluster.list_objects("pods", "dev"))
    assert sorted(p["name"] for p in result.structured_content["items"]) == want
    assert again.structured_content is not None and "dev" in {n["name"] for n in again.structured_content["items"]}


def test_a_listing_that_does_not_match_the_sources_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(front.LISTING_PATH.read_text(encoding="utf-8"))
    doc["fingerprint"] = "0" * 64
    stale = tmp_path / "mcp_listing.json"
    stale.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setattr(front, "LISTING_PATH", stale)
    assert front.load_listing(read_only=True) is None
    monkeypatch.setattr(front, "LISTING_PATH", tmp_path / "missing.json")
    assert front.load_listing(read_only=False) is None


def test_a_client_that_leaves_after_discovery_gets_its_answers_and_the_server_exits_cleanly() -> None:
    answers = exchange([initialize("2025-11-25"), INITIALIZED, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}])
    assert answers[0]["result"]["protocolVersion"] == "2025-11-25"
    assert sorted(t["name"] for t in answers[1]["result"]["tools"]) == READS


def test_an_initialize_the_front_does_not_recognise_is_left_to_the_sdk() -> None:
    odd = initialize("2025-06-18")
    del odd["params"]["clientInfo"]  # invalid params: the SDK's own error, not a front's guess
    answers = exchange([odd, initialize("2025-06-18", request_id=2)])
    assert "error" in answers[0] and answers[0]["id"] == 1
    assert answers[1]["id"] == 2 and answers[1]["result"]["serverInfo"]["name"] == "kubeduty"


def test_the_front_alone_answers_discovery_and_hands_over_at_the_first_line_it_does_not_serve() -> None:
    listing = front.load_listing(read_only=True)
    assert listing is not None
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    call = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_pods"}})
    lines = [initialize("2025-06-18"), INITIALIZED, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
    os.write(stdin_w, b"".join(json.dumps(m).encode() + b"\n" for m in lines) + call.encode() + b"\n{partial")
    never = front.threading.Event()  # the SDK is never ready here: only the front answers
    handover = front.Front(listing, stdin_fd=stdin_r, stdout_fd=stdout_w).run(never)
    os.close(stdout_w)
    with os.fdopen(stdout_r, "rb") as out:
        answers = [json.loads(line) for line in out.read().splitlines()]
    os.close(stdin_r)
    os.close(stdin_w)
    assert handover is not None
    assert [a["id"] for a in answers] == [1, 2] and answers[0]["result"]["protocolVersion"] == "2025-06-18"
    assert sorted(t["name"] for t in answers[1]["result"]["tools"]) == READS
    assert handover.answered == [1, 2] and len(handover.replay) == 3
    assert handover.rest == call.encode() + b"\n{partial"
