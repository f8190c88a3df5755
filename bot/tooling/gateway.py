"""One view over every tool source: the built-in catalogue and MCP servers.

Arguments are checked against the tool's JSON schema before any source sees them, so a malformed LLM call gets a
precise error back instead of reaching a cluster.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import jsonschema

from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome, ToolSource
from tools.redact import mask_obj, mask_text

log = logging.getLogger(__name__)


class ToolGateway:
    def __init__(self, sources: Iterable[ToolSource]) -> None:
        self.sources: list[ToolSource] = list(sources)
        self._tools: dict[str, tuple[ToolInfo, ToolSource]] = {}
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        self.errors: dict[str, str] = {}  # source name -> last listing error (for /status)
        # Sources that know their tools without I/O (the built-in catalogue) are usable before the first refresh().
        for source in self.sources:
            listing = getattr(source, "list_tools_now", None)
            if callable(listing):
                for info in listing():
                    self._tools.setdefault(info.name, (info, source))

    async def refresh(self) -> None:
        """Re-list every source; a source that fails keeps nothing and is reported, the others still load."""
        listings = await asyncio.gather(*(s.list_tools() for s in self.sources), return_exceptions=True)
        tools: dict[str, tuple[ToolInfo, ToolSource]] = {}
        errors: dict[str, str] = {}
        for source, listed in zip(self.sources, listings, strict=True):
            if isinstance(listed, BaseException):
                log.warning("tool source %s failed to list tools: %s", source.name, listed)
                errors[source.name] = str(listed) or type(listed).__name__
                continue
            for info in listed:
                if info.name in tools:
                    log.warning("tool %s from %s shadowed by an earlier source", info.name, source.name)
                    continue
                tools[info.name] = (info, source)
        self._tools = tools
        self._validators = {}
        self.errors = errors

    def tools(self) -> list[ToolInfo]:
        return [info for info, _ in self._tools.values()]

    def info(self, name: str) -> ToolInfo | None:
        entry = self._tools.get(name)
        return entry[0] if entry else None

    def _validator(self, info: ToolInfo) -> jsonschema.protocols.Validator:
        v = self._validators.get(info.name)
        if v is None:
            cls = jsonschema.validators.validator_for(info.input_schema)
            v = cls(info.input_schema)
            self._validators[info.name] = v
        return v

    def check_args(self, info: ToolInfo, args: dict[str, Any]) -> str | None:
        """None when the arguments fit the schema, else a readable list of problems."""
        try:
            errors = sorted(self._validator(info).iter_errors(args), key=lambda e: list(e.absolute_path))
        except jsonschema.exceptions.SchemaError as exc:
            return f"the tool's schema is invalid: {exc.message}"
        if not errors:
            return None
        parts = []
        for err in errors[:5]:
            where = ".".join(str(p) for p in err.absolute_path)
            parts.append(f"{where}: {err.message}" if where else err.message)
        return f"invalid arguments for {info.name}: " + "; ".join(parts)

    async def call(
        self,
        call: ToolCall,
        *,
        impersonate_user: str | None = None,
        impersonate_groups: Sequence[str] = (),
    ) -> ToolOutcome:
        """Run a tool; never raises. Impersonation reaches sources that support it (the built-in one)."""
        entry = self._tools.get(call.tool)
        if entry is None:
            return ToolOutcome(ok=False, error_code="not_found", error=f"unknown tool '{call.tool}'")
        info, source = entry
        problem = self.check_args(info, call.args)
        if problem is not None:
            return ToolOutcome(ok=False, error_code="invalid", error=problem)
        kwargs: dict[str, Any] = {}
        if impersonate_user:
            if "impersonate_user" not in inspect.signature(source.call).parameters:
                # Running with the source's own (wider) credentials instead would defeat the policy's intent.
                return ToolOutcome(
                    ok=False,
                    error_code="forbidden",
                    error=f"{call.tool}: source '{source.name}' cannot act as user '{impersonate_user}'",
                )
            kwargs = {"impersonate_user": impersonate_user, "impersonate_groups": tuple(impersonate_groups)}
        try:
            outcome = await source.call(call, **kwargs)
        except Exception as exc:  # a source must not take the conversation down
            log.exception("tool source %s failed on %s", source.name, call.tool)
            outcome = ToolOutcome(ok=False, error_code="failed", error=f"{call.tool} failed: {exc}")
        # Only our own catalogue redacts its results; anything else (external MCP servers) and every error text
        # (it may echo upstream API messages) is masked here, the one door to cards, audit and the LLM's context.
        return _masked(outcome, results=not getattr(source, "redacts_output", False))


def _masked(out: ToolOutcome, *, results: bool) -> ToolOutcome:
    return ToolOutcome(
        ok=out.ok,
        data=mask_obj(out.data) if results and out.data is not None else out.data,
        text=mask_text(out.text) if results else out.text,
        error_code=out.error_code,
        error=mask_text(out.error) if out.error else out.error,
    )
