"""The approvals fixtures (gate on real Redis, sandbox over HTTP) and the MCP peers, shared by the attacks."""

from tests.approvals.conftest import clock, codec, gateway, make_gate
from tests.mcp.conftest import peers

__all__ = ["clock", "codec", "gateway", "make_gate", "peers"]
