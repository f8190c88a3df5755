"""The built-in K8s tools as a `ToolSource`, called in-process through the catalogue."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome
from tools.catalogue import CATALOGUE, run_tool
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
    redacts_output = True  # tools.catalogue.run_tool redacts every result

    def __init__(self, kube: KubeClients, *, catalogue: Mapping[str, ToolSpec[Any, Any]] | None = None) -> None:
        self.kube = kube
        self._catalogue = CATALOGUE if catalogue is None else catalogue

    async def list_tools(self) -> list[ToolInfo]:
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
            result = await run_tool(
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
        return ToolOutcome(ok=True, data=result.model_dump(mode="json"))
