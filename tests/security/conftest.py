"""The approvals fixtures (gate on real Redis, sandbox over HTTP), the MCP peers, and the channel emulators,
shared by the attacks."""

from tests.approvals.conftest import clock, codec, gateway, make_gate
from tests.channels.conftest import _loopback_without_proxy, dingtalk_gateway, feishu_gateway, serve_bot
from tests.mcp.conftest import peers

__all__ = [
    "_loopback_without_proxy",
    "clock",
    "codec",
    "dingtalk_gateway",
    "feishu_gateway",
    "gateway",
    "make_gate",
    "peers",
    "serve_bot",
]
