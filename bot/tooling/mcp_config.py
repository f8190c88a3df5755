"""The MCP servers file (`settings.mcp_config`, YAML or JSON) and the factory of the bot's tool sources.

    servers:
      - name: k8smcp                       # letters, digits, '-' and '_'; also the default prefix (k8smcp_)
        command: ../.peers/node_modules/.bin/kubernetes-mcp-server   # relative to this file's folder
        args: [--kubeconfig, /etc/kubeduty/kubeconfig, --disable-multi-cluster]
        env: {}                            # added to a minimal inherited environment (PATH, HOME ...)
        # url: http://127.0.0.1:8080/mcp   # instead of command: streamable HTTP
        read_only_tools: [pods_list, pods_list_in_namespace, pods_get, pods_log, events_list]
        exclude_tools: [pods_exec]
        tools:
          resources_scale: {risk: medium, verb: scale}
          pods_delete: {risk: high, resource: pods, verb: delete}

Safety: a tool of a server we did not write is a read only when `read_only_tools` (a reviewed allow-list) names
it; its own `readOnlyHint` is a hint, never trust. Everything else, unannotated or unknown tools included, is
mutating and takes the confirmation path. A per-tool `mutates: false` in `tools:` counts as allow-listing.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core.tasks import TaskTracker
from bot.tooling.types import ToolSource

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


class McpConfigError(ValueError):
    """The MCP servers file cannot be used; the message names the file and the problem."""


class ToolOverride(BaseModel):
    """What the operator says about one external tool (by its name on the server, without prefix)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mutates: bool | None = Field(default=None, description="false = reviewed read (same as read_only_tools)")
    risk: Literal["read", "low", "medium", "high"] | None = None
    verb: str | None = Field(default=None, max_length=40)
    resource: str | None = Field(default=None, max_length=80)
    title_en: str | None = Field(default=None, max_length=120)
    title_zh: str | None = Field(default=None, max_length=120)


class McpServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_RE)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP headers (e.g. Authorization)")
    prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{0,32}$", description="default: '<name>_'")
    enabled: bool = True
    read_only_tools: list[str] = Field(default_factory=list, description="reviewed allow-list of read tools")
    exclude_tools: list[str] = Field(default_factory=list, description="tools never offered to the bot")
    tools: dict[str, ToolOverride] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600, description="one tool call")
    connect_timeout_seconds: float = Field(default=30.0, gt=0, le=600, description="start, handshake, first list")
    startup_wait_seconds: float = Field(
        default=10.0, ge=0, le=600, description="how long the first list_tools waits for this server"
    )
    health_interval_seconds: float = Field(default=30.0, gt=0, le=3600, description="liveness probe period")
    backoff_initial_seconds: float = Field(default=1.0, gt=0, le=60)
    backoff_max_seconds: float = Field(default=60.0, gt=0, le=3600)
    max_output_chars: int = Field(default=20_000, ge=1_000, le=1_000_000, description="text kept per result")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of `command` (stdio) or `url` (streamable HTTP)")
        if self.url is not None and not re.match(r"^https?://", self.url):
            raise ValueError("`url` must start with http:// or https://")
        return self

    @field_validator("read_only_tools", "exclude_tools")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))

    @property
    def tool_prefix(self) -> str:
        return self.prefix if self.prefix is not None else f"{self.name}_"

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: list[McpServerConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct(self) -> McpConfig:
        names = [s.name for s in self.servers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"server names must be unique: {', '.join(dupes)}")
        prefixes = [s.tool_prefix for s in self.servers if s.enabled]
        if "" in prefixes:
            raise ValueError("external servers need a non-empty prefix (the built-in tools have none)")
        return self


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative `command` paths (with a slash) and `cwd` are relative to the config file's folder, so a config
    works from wherever the bot is started."""
    out = dict(raw)
    cmd = out.get("command")
    if isinstance(cmd, str) and "/" in cmd and not cmd.startswith("/"):
        out["command"] = str((base / cmd).resolve())
    cwd = out.get("cwd")
    if isinstance(cwd, str) and not cwd.startswith("/"):
        out["cwd"] = str((base / cwd).resolve())
    return out


def parse_config(doc: Any, *, base: Path, source: str = "<config>") -> McpConfig:
    if doc is None:
        return McpConfig()
    if not isinstance(doc, dict):
        raise McpConfigError(f"{source}: expected a mapping with a `servers:` list")
    servers = doc.get("servers") or []
    if not isinstance(servers, list):
        raise McpConfigError(f"{source}: `servers` must be a list")
    resolved = [_resolve_paths(s, base) if isinstance(s, dict) else s for s in servers]
    try:
        return McpConfig.model_validate({**doc, "servers": resolved})
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False)[:10]:
            loc = err["loc"]
            where = ".".join(str(p) for p in loc) or "(top)"
            # servers.0.name -> servers[0] (name of that entry, when it has one)
            if len(loc) >= 2 and loc[0] == "servers" and isinstance(loc[1], int) and loc[1] < len(servers):
                entry = servers[loc[1]]
                label = entry.get("name") if isinstance(entry, dict) else None
                where = f"servers[{loc[1]}]" + (f" ({label})" if label else "") + "".join(f".{p}" for p in loc[2:])
            problems.append(f"{where}: {err['msg']}")
        raise McpConfigError(f"{source}: " + "; ".join(problems)) from exc


def load_config(path: str | Path) -> McpConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise McpConfigError(f"cannot read the MCP servers file '{p}': {exc.strerror}") from exc
    try:
        doc = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise McpConfigError(
            f"the MCP servers file '{p}' is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {exc}"
        ) from exc
    return parse_config(doc, base=p.resolve().parent, source=str(p))


def build_sources(settings: Settings, kube: Any, *, tasks: TaskTracker | None = None) -> list[ToolSource]:
    """Every tool source of the bot: the built-in catalogue called directly (no MCP hop: its results are our own
    models, already validated and redacted), then each enabled external server of `settings.mcp_config`.
    Nothing connects here: each MCP source starts on first use (or `await source.start()`), in the background,
    so a server that is down never blocks the bot. The MCP client library is imported only when a server is
    configured."""
    from bot.tooling.builtin import BuiltinSource

    sources: list[ToolSource] = [BuiltinSource(kube)]
    if settings.mcp_config:
        from bot.tooling.mcp_source import McpSource

        config = load_config(settings.mcp_config)
        for server in config.servers:
            if server.enabled:
                sources.append(McpSource(server, tasks=tasks))
            else:
                log.info("MCP server %s is disabled in %s", server.name, settings.mcp_config)
    return sources
