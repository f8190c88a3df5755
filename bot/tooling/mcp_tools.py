"""What an MCP tool means to the bot: its name, resource and verb, bounded description and result.

Pure conversions from the MCP SDK's types to ours, kept apart from the connection supervisor in `mcp_source`.
"""

from __future__ import annotations

import json
import re

import mcp_types as mt

from bot.tooling.mcp_config import McpServerConfig
from bot.tooling.types import ToolInfo, ToolOutcome
from tools.mcp_server import META_KEY
from tools.spec import ErrorCode, Risk

MAX_DESCRIPTION_CHARS = 2_000
TRUNCATED = "…[truncated 已截断: {n} more characters]"
_TOOL_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")
_ERROR_PREFIX_RE = re.compile(r"^Error executing tool [^:]*: ")
_ERROR_CODE_RE = re.compile(r"^\[([a-z_]+)\]\s*")
_CODES = {c.value for c in ErrorCode}

# ---------------------------------------------------------------- names -> resource / verb (for slot filling)
_VERBS = {
    "list": "list", "ls": "list", "search": "list", "find": "list",
    "get": "get", "describe": "get", "read": "get", "view": "get", "show": "get", "inspect": "get", "stats": "get",
    "log": "logs", "logs": "logs", "top": "top", "events": "list",
    "delete": "delete", "remove": "delete", "rm": "delete", "kill": "delete",
    "scale": "scale", "restart": "restart", "rollback": "rollback", "undo": "rollback",
    "create": "create", "apply": "apply", "update": "update", "patch": "patch", "edit": "update", "set": "update",
    "exec": "exec", "run": "run", "install": "install", "uninstall": "uninstall", "upgrade": "upgrade",
    "cordon": "cordon", "uncordon": "uncordon", "drain": "drain", "evict": "evict",
}  # fmt: skip
_VERB_RANK = [
    "delete", "scale", "restart", "rollback", "create", "apply", "update", "patch", "exec", "run", "install",
    "uninstall", "upgrade", "cordon", "uncordon", "drain", "evict", "logs", "top", "list", "get",
]  # fmt: skip
_RESOURCES = {
    "pod": "pods", "pods": "pods", "po": "pods",
    "deployment": "deployments", "deployments": "deployments", "deploy": "deployments",
    "statefulset": "statefulsets", "statefulsets": "statefulsets", "sts": "statefulsets",
    "daemonset": "daemonsets", "daemonsets": "daemonsets", "ds": "daemonsets",
    "replicaset": "replicasets", "replicasets": "replicasets", "rs": "replicasets",
    "service": "services", "services": "services", "svc": "services",
    "node": "nodes", "nodes": "nodes", "namespace": "namespaces", "namespaces": "namespaces", "ns": "namespaces",
    "event": "events", "events": "events", "configmap": "configmaps", "configmaps": "configmaps",
    "secret": "secrets", "secrets": "secrets", "job": "jobs", "jobs": "jobs", "cronjob": "cronjobs",
    "cronjobs": "cronjobs", "ingress": "ingresses", "ingresses": "ingresses", "pvc": "persistentvolumeclaims",
    "pvcs": "persistentvolumeclaims", "hpa": "horizontalpodautoscalers", "helm": "helm", "releases": "helm",
    "context": "contexts", "contexts": "contexts", "configuration": "configuration", "cluster": "clusters",
    "clusters": "clusters",
}  # fmt: skip


def infer_resource_verb(name: str, *, mutates: bool) -> tuple[str, str]:
    """`pods_list_in_namespace` -> (pods, list); `resources_scale` -> ("", scale); `getPodLogs` -> (pods, logs).

    The resource is "" when the name does not say (generic tools take the kind as a parameter)."""
    words = [w for w in re.split(r"[_\-.\s/]+|(?<=[a-z0-9])(?=[A-Z])", name) if w]
    lowered = [w.lower() for w in words]
    resource = next((_RESOURCES[w] for w in lowered if w in _RESOURCES), "")
    verbs = [_VERBS[w] for w in lowered if w in _VERBS and _RESOURCES.get(w) is None]
    # The most telling verb wins: `getPodLogs` is about logs, `create_or_update` creates.
    verb = min(verbs, key=_VERB_RANK.index) if verbs else ""
    if not verb and "events" in lowered:
        verb = "list"
    if not verb:
        verb = "call" if mutates else "get"
    return resource, verb


def bound_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATED.format(n=len(text) - limit)


def tool_info(
    tool: mt.Tool, *, source: str, prefix: str, config: McpServerConfig | None, trusted: bool
) -> tuple[ToolInfo, list[str]]:
    """Our view of one listed tool, and warnings for the operator (e.g. an allow-list the server contradicts)."""
    warnings: list[str] = []
    remote = tool.name
    ann = tool.annotations
    annotations = ann.model_dump(exclude_none=True) if ann is not None else {}  # snake_case, as BuiltinSource
    local = _TOOL_NAME_RE.sub("_", prefix + remote)[:64]
    description = bound_text(tool.description or "", MAX_DESCRIPTION_CHARS)
    title = tool.title or (ann.title if ann is not None and ann.title else "") or remote
    meta = (tool.meta or {}).get(META_KEY) if trusted else None
    if isinstance(meta, dict):
        mutates = bool(meta.get("mutates", True))
        own_risk = str(meta.get("risk") or (Risk.HIGH.value if mutates else Risk.READ.value))
        return (
            ToolInfo(
                name=local,
                description=description,
                input_schema=dict(tool.input_schema),
                mutates=mutates,
                risk=own_risk,
                verb=str(meta.get("verb") or ("call" if mutates else "get")),
                resource=str(meta.get("resource") or ""),
                title_en=title,
                title_zh=str(meta.get("title_zh") or title),
                source=source,
                annotations=annotations,
            ),
            warnings,
        )

    override = config.tools.get(remote) if config is not None else None
    reviewed_read = config is not None and (
        remote in config.read_only_tools
        or (override is not None and (override.mutates is False or override.risk == Risk.READ.value))
    )
    claims_write = ann is not None and (ann.read_only_hint is False or ann.destructive_hint is True)
    if reviewed_read and claims_write:
        warnings.append(
            f"{source}: '{remote}' is allow-listed as a read but the server marks it as writing "
            f"(readOnlyHint={ann.read_only_hint if ann else None}, destructiveHint={ann.destructive_hint if ann else None}); "
            "treated as mutating"
        )
    mutates = not reviewed_read or claims_write or (override is not None and override.mutates is True)
    # Hints never lower the risk of a tool we did not write; only the operator can.
    risk: str | None = override.risk if override is not None and override.risk else None
    if not mutates:
        risk = Risk.READ.value
    elif risk is None or risk == Risk.READ.value:
        risk = Risk.HIGH.value
    resource, verb = infer_resource_verb(remote, mutates=mutates)
    if override is not None:
        resource = override.resource if override.resource is not None else resource
        verb = override.verb or verb
        title = override.title_en or title
    title_zh = override.title_zh if override is not None and override.title_zh else title
    return (
        ToolInfo(
            name=local,
            description=description,
            input_schema=dict(tool.input_schema),
            mutates=mutates,
            risk=risk,
            verb=verb,
            resource=resource,
            title_en=title,
            title_zh=title_zh,
            source=source,
            annotations=annotations,
        ),
        warnings,
    )


def tool_outcome(result: mt.CallToolResult, *, source: str, limit: int, trusted: bool) -> ToolOutcome:
    """An MCP call result as our `ToolOutcome`: text joined and bounded, error codes recovered."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, mt.TextContent):
            parts.append(block.text)
        else:
            parts.append(f"[{block.type} content omitted]")
    text = "\n".join(parts)
    if result.is_error:
        message = _ERROR_PREFIX_RE.sub("", text.strip()) or f"{source}: the tool failed without a message"
        code = ErrorCode.FAILED.value
        m = _ERROR_CODE_RE.match(message)
        if m and m.group(1) in _CODES:
            code, message = m.group(1), message[m.end() :]
        return ToolOutcome(ok=False, text="", error_code=code, error=bound_text(message, 2_000))
    data = result.structured_content if isinstance(result.structured_content, dict) else None
    if data is not None and trusted:
        # Our own result models carry their own bounds; the text form would only duplicate the data.
        return ToolOutcome(ok=True, data=data, text="")
    if data is not None and len(json.dumps(data, default=str)) > limit:
        data = None  # too big to pass along whole; the bounded text says it was cut
    return ToolOutcome(ok=True, data=data, text=bound_text(text, limit))
