"""The built-in Kubernetes tools served over MCP: an adapter over the catalogue, like a channel is over the bot.

Each `ToolSpec` becomes one MCP tool whose input schema IS the params model's JSON schema, whose output schema IS
the result model's (structured output), with annotations derived from the spec (read/mutate, destructive,
idempotent). A `ToolFailure` reaches the client as an error result carrying its code and the upstream message.

Mutating tools are not listed on a read-only server, and a call naming one is refused with a clear message.
The bot talks to the same server in-process (`mcp.Client(build_server(...))`), so external MCP clients and the
bot see exactly one tool surface.

`tools` never imports `bot`: the kubeconfig comes from the environment (KUBECONFIG, KUBE_CONTEXT), as it does
for kubectl.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict

from tools.spec import ErrorCode, ToolFailure, ToolSpec

log = logging.getLogger(__name__)

SERVER_NAME = "kubeduty"
# `_meta` key of each listed tool: what an in-process client that trusts this server needs beyond the MCP fields
# (risk, verb, resource, Chinese title). External clients may ignore it.
META_KEY = "kubeduty.io/tool"

# (kube, tool name, raw arguments, impersonated user, impersonated groups) -> result; validates the arguments and
# raises ToolFailure for every expected failure.
Runner = Callable[[Any, str, dict[str, Any], str | None, tuple[str, ...]], Awaitable[BaseModel]]
# `_meta` key of a tools/call request carrying the user the bot acts for. Honoured only by a server built with
# `trust_impersonation=True` (the bot's in-process one): from any other client it would let a caller pick whose
# Kubernetes rights it borrows.
IMPERSONATE_META_KEY = "kubeduty.io/impersonate"


def failure_text(exc: ToolFailure) -> str:
    """`[code] message (upstream: ...)`: readable by a person or an LLM, parseable by our own client."""
    text = f"[{exc.code.value}] {exc.message}"
    # For bad arguments the message already explains each field; the upstream text is pydantic's raw dump.
    if exc.upstream and exc.upstream not in exc.message and exc.code is not ErrorCode.INVALID:
        text += f" (upstream: {exc.upstream})"
    return text


class _RawArgs(ArgModelBase):
    """The SDK validates arguments with an `ArgModelBase` before calling the tool function. Ours passes them
    through untouched: the catalogue's `run_tool` validates them against the params model itself, once, with
    messages that name the fields and say what a valid value looks like."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"raw": dict(self.model_extra or {})}


def annotations_for(spec: ToolSpec[Any, Any]) -> ToolAnnotations:
    return ToolAnnotations(
        title=spec.title_en,
        read_only_hint=not spec.mutates,
        # The spec says destructive/idempotent are meaningful only for tools that change something.
        destructive_hint=spec.destructive if spec.mutates else False,
        idempotent_hint=spec.idempotent if spec.mutates else True,
        # A cluster is a closed world: the tools touch only the Kubernetes API they are configured for.
        open_world_hint=False,
    )


def _impersonation(ctx: Context[Any, Any], trusted: bool) -> tuple[str | None, tuple[str, ...]]:
    if not trusted:
        return None, ()
    meta = ctx.request_context.meta or {}
    imp = meta.get(IMPERSONATE_META_KEY)
    if not isinstance(imp, dict) or not imp.get("user"):
        return None, ()
    groups = imp.get("groups") or ()
    return str(imp["user"]), tuple(str(g) for g in groups if isinstance(g, str))


def _tool(spec: ToolSpec[Any, Any], *, kube: Any, run: Runner, trust_impersonation: bool) -> Tool:
    async def call(raw: dict[str, Any], ctx: Context[Any, Any]) -> BaseModel:
        user, groups = _impersonation(ctx, trust_impersonation)
        try:
            return await run(kube, spec.name, raw, user, groups)
        except ToolFailure as exc:
            raise ToolError(failure_text(exc)) from exc

    return Tool(
        fn=call,
        name=spec.name,
        title=spec.title_en,
        description=spec.description,
        parameters=spec.input_schema(),
        fn_metadata=FuncMetadata(arg_model=_RawArgs, output_model=spec.result, output_schema=spec.output_schema()),
        is_async=True,
        context_kwarg="ctx",
        annotations=annotations_for(spec),
        meta={
            META_KEY: {
                "mutates": spec.mutates,
                "risk": spec.risk.value,
                "verb": spec.verb,
                "resource": spec.resource,
                "title_zh": spec.title_zh,
            }
        },
    )


async def _run_catalogue(
    kube: Any, name: str, args: dict[str, Any], user: str | None, groups: tuple[str, ...]
) -> BaseModel:
    """Default runner: the catalogue's `run_tool` (validates, picks the cluster, maps API errors, redacts)."""
    from tools.catalogue import run_tool

    return await run_tool(kube, name, args, impersonate_user=user, impersonate_groups=groups)


class CatalogueServer(MCPServer[Any]):
    """An `MCPServer` that refuses (with a reason) calls to the mutating tools it does not expose."""

    def __init__(
        self,
        *,
        refused: Mapping[str, str],
        warm: Callable[[], None] | None = None,
        read_only: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.read_only = read_only
        self._refused = dict(refused)
        self._warm = warm

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        warm, self._warm = self._warm, None
        if warm is not None:
            # Listing needs none of the kubernetes client; the first call does. Load it in a thread once the
            # listing is on its way, so discovery stays fast and the first call does not pay the import.
            asyncio.get_running_loop().call_later(
                0.1, lambda: threading.Thread(target=warm, name="kubeduty-warm", daemon=True).start()
            )
        return tools

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        reason = self._refused.get(name)
        if reason is not None:
            raise ToolError(reason)
        return await super().call_tool(name, arguments, context)


def build_server(
    *,
    kube: Any,
    read_only: bool = True,
    catalogue: Mapping[str, ToolSpec[Any, Any]] | None = None,
    run: Runner | None = None,
    trust_impersonation: bool = False,
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING",
    warm: Callable[[], None] | None = None,
) -> CatalogueServer:
    """The MCP server over the catalogue. `kube` is what the catalogue's `run_tool` takes (`KubeClients`).

    `trust_impersonation` is for the bot's in-process server only (see IMPERSONATE_META_KEY)."""
    if catalogue is None:
        from tools.catalogue import CATALOGUE

        catalogue = CATALOGUE
    runner = run or _run_catalogue
    exposed: list[Tool] = []
    refused: dict[str, str] = {}
    for spec in catalogue.values():
        if spec.mutates and read_only:
            refused[spec.name] = (
                f"[forbidden] '{spec.name}' changes the cluster and this MCP server is read-only; "
                "start it with `kubeduty mcp serve --allow-mutations` to enable mutating tools"
            )
            continue
        exposed.append(_tool(spec, kube=kube, run=runner, trust_impersonation=trust_impersonation))
    mode = "read-only" if read_only else "read-write"
    return CatalogueServer(
        refused=refused,
        warm=warm,
        read_only=read_only,
        name=SERVER_NAME,
        title="KubeDuty Kubernetes tools",
        instructions=(
            f"Kubernetes on-duty tools ({mode}). Read tools are safe to call; parameters are validated "
            "(DNS-1123 names, bounded limits) and outputs are bounded with an explicit `truncated` flag."
        ),
        version=_version(),
        tools=exposed,
        log_level=log_level,
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("kubeduty")
    except Exception:  # noqa: BLE001 - running from a checkout without metadata
        return "0"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def prepare(*, read_only: bool, warm: Callable[[], None] | None = None) -> tuple[Any, CatalogueServer]:
    """The kube clients (from KUBECONFIG / KUBE_CONTEXT) and the server over them. Safe in any thread: nothing
    here binds an event loop (`tools/mcp_front.py` builds them while it answers discovery)."""
    from tools.k8s.client import KubeClients

    timeout = float(os.environ.get("KUBE_TIMEOUT_SECONDS") or 10.0)
    kube = KubeClients(
        kubeconfig=os.environ.get("KUBECONFIG") or None,
        context=os.environ.get("KUBE_CONTEXT") or None,
        timeout_seconds=timeout,
    )
    return kube, build_server(kube=kube, read_only=read_only, log_level="WARNING", warm=warm)


def serve(*, transport: str, host: str, port: int, read_only: bool) -> int:
    """`kubeduty mcp serve`: run until stdin closes (stdio) or Ctrl-C (http). Returns the exit code."""
    if transport not in ("stdio", "http"):
        print(f"error: unknown transport '{transport}' (use stdio or http)", file=sys.stderr)
        return 2
    from tools.k8s.client import warm_up

    return serve_prepared(prepare(read_only=read_only, warm=warm_up), transport=transport, host=host, port=port)


def serve_prepared(
    prepared: tuple[Any, CatalogueServer], *, transport: str, host: str, port: int, handover: Any = None
) -> int:
    """Serve a `prepare`d server. `handover` (stdio only): what `tools/mcp_front.py` already answered."""
    kube, server = prepared
    if transport == "http" and not _is_loopback(host) and not server.read_only:
        # No authentication on this transport: anyone who reaches the port can call the tools.
        print(
            f"warning: serving mutating tools without authentication on {host}:{port}; "
            "prefer 127.0.0.1 or a read-only server",
            file=sys.stderr,
        )

    async def main() -> None:
        try:
            if transport == "stdio":
                from tools.mcp_stdio import serve_stdio  # answers malformed lines with JSON-RPC errors

                await serve_stdio(server, handover=handover)
            else:
                print(
                    f"KubeDuty MCP server on http://{host}:{port}/mcp ({'read-only' if server.read_only else 'read-write'})",
                    file=sys.stderr,
                    flush=True,
                )
                await server.run_streamable_http_async(host=host, port=port)
        finally:
            await kube.close()

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # e.g. the port is taken
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
