"""`kubeduty mcp serve` over stdio answers malformed lines with JSON-RPC errors, and keeps serving."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from mcp_types import jsonrpc_message_adapter
from pydantic import ValidationError

from tests.mcp.conftest import serve_args
from tools.mcp_stdio import INVALID_REQUEST, PARSE_ERROR, error_for

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def test_malformed_lines_get_a_parse_or_invalid_request_error_and_a_good_request_is_still_answered(
    tmp_path: Path,
) -> None:
    lines = [
        "not json at all",
        '{"jsonrpc": "2.0", "id": 7, "method": ',  # cut off
        '{"jsonrpc": "2.0", "id": 8, "method": 42}',  # JSON, but not a request
        "[1, 2, 3]",
        "\udcff\udcfe",  # bytes that are not UTF-8 (written below as raw bytes)
        json.dumps(INITIALIZE),
    ]
    raw = b"".join((b"\xff\xfe" if line.startswith("\udcff") else line.encode()) + b"\n" for line in lines)
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none"), "KUBEDUTY_ENV_FILE": os.devnull}
    proc = subprocess.run(serve_args("--transport", "stdio"), input=raw, capture_output=True, timeout=120, env=env)
    answers = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    errors = [a["error"]["code"] for a in answers if "error" in a]
    assert errors == [PARSE_ERROR, PARSE_ERROR, INVALID_REQUEST, INVALID_REQUEST, PARSE_ERROR], proc.stderr.decode()
    assert all(a["id"] is None for a in answers if "error" in a)
    assert answers[-1]["id"] == 1 and answers[-1]["result"]["serverInfo"]["name"] == "kubeduty"
    assert "Traceback" not in proc.stderr.decode()


def test_an_unexpected_transport_exception_is_an_invalid_request() -> None:
    assert error_for(RuntimeError("boom")).error.code == INVALID_REQUEST
    with pytest.raises(ValidationError) as err:
        jsonrpc_message_adapter.validate_json("{", by_name=False)
    assert error_for(err.value).error.code == PARSE_ERROR
