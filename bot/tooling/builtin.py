"""The built-in K8s tools as a `ToolSource`: the bot calls the catalogue directly (no MCP hop, no schema check of
our own results). `kubeduty mcp serve` serves the same catalogue over MCP for outside clients; a test keeps both
paths returning the same results."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bot.tooling.status import SourceStatus
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome
from tools.catalogue import CATALOGUE, run_tool_json
from tools.k8s.client import KubeClients
from tools.spec import ErrorCode, ToolFailure, ToolSpec

log = logging.getLogger(__name__)


def tool_info(spec: ToolSpec[Any, Any], source: str = "builtin") -> ToolInfo:
    return ToolInfo(
        name=spec.name,
        description=spec.description,
        input_schema=spec.input_schema(),
        mutates=spec.mutates,
        risk=spec.risk.value,
        verb=spec.verb,
        resource=spec.resource,
        title_en=spec.title_en,
        title_zh=spec.title_zh,
        source=source,
        annotations={
            "read_only_hint": not spec.mutates,
            "destructive_hint": spec.destructive,
            "idempotent_hint": spec.idempotent,
        },
    )


class BuiltinSource:
    """`ToolSource` over `tools.catalogue`; never raises from `call`."""

    name = "builtin"
    redacts_output = True  # tools.catalogue.run_tool_json redacts every result

    def __init__(self, kube: KubeClients, *, catalogue: Mapping[str, ToolSpec[Any, Any]] | None = None) -> None:
        self.kube = kube
        self._catalogue = CATALOGUE if catalogue is None else catalogue
        self._since = time.time()

    def status(self) -> SourceStatus:
        """Always up: the tools run in this process (a cluster that is down shows in each call's answer)."""
        return SourceStatus(self.name, "inprocess", "up", len(self._catalogue), since=self._since)

    async def wait_up(self, within: float) -> bool:
        return True

    async def aclose(self) -> None:
        """Nothing to close: the kubernetes clients belong to whoever built them."""

    async def list_tools(self) -> list[ToolInfo]:
        """The catalogue; the first listing (the bot's start-up) also loads what the first call needs, in a
        thread, so the first message does not stall every chat for the Kubernetes client's import."""
        warm_up = getattr(self.kube, "warm_up", None)
        if warm_up is not None:
            await warm_up()
        return self.list_tools_now()

    def list_tools_now(self) -> list[ToolInfo]:
        """The same listing, synchronously: the catalogue is static (the gateway uses it before any refresh)."""
        return [tool_info(spec, self.name) for spec in self._catalogue.values()]

    async def call(
        self,
        call: ToolCall,
        *,
        impersonate_user: str | None = None,
        impersonate_groups: Sequence[str] = (),
    ) -> ToolOutcome:
        if call.tool not in self._catalogue:
            return ToolOutcome(ok=False, error_code=ErrorCode.NOT_FOUND.value, error=f"unknown tool '{call.tool}'")
        try:
            data = await run_tool_json(
                self.kube,
                call.tool,
                dict(call.args),
                impersonate_user=impersonate_user,
                impersonate_groups=impersonate_groups,
            )
        except ToolFailure as exc:
            return ToolOutcome(ok=False, error_code=exc.code.value, error=exc.message)
        except Exception as exc:  # a tool bug must not take the conversation down
            log.exception("tool %s failed", call.tool)
            return ToolOutcome(ok=False, error_code=ErrorCode.FAILED.value, error=f"{call.tool} failed: {exc}")
        return ToolOutcome(ok=True, data=data)
