"""Slash commands: `/cmd args…` -> an `Intent` with exact arguments; missing ones are left for slot filling."""

from __future__ import annotations

import shlex
from typing import Any

from bot.conversation.grammar import ONCALL_BY_SLASH, ONCALL_COMMANDS
from bot.conversation.intent import Intent, Kind
from bot.conversation.lexer import MAX_PARSE_CHARS, is_name

SLASH_HELP = (
    ("/status", "集群资源总览", "cluster overview"),
    ("/ns", "命名空间列表", "namespaces"),
    ("/pods [ns] [filter] [--failing]", "Pod 列表（--failing 只看异常）", "pods (--failing: only failing ones)"),
    (
        "/logs [pod] [-n ns] [--tail N] [--previous] [-c container] [-f]",
        "Pod 日志（-f 实时跟踪）",
        "pod logs (-f: follow live)",
    ),
    ("/describe [pod] [-n ns]", "Pod 详情", "pod details"),
    ("/events [ns] [object]", "事件", "events"),
    ("/deploys [ns]", "Deployment 列表", "deployments"),
    ("/nodes", "节点列表", "nodes"),
    ("/health <name> [-n ns]", "工作负载健康检查", "workload health check"),
    ("/use ns <name> | /use cluster <ctx>", "设置当前命名空间/集群", "set the current namespace/cluster"),
    ("/scale <deploy> <n> [-n ns]", "扩缩容（需确认）", "scale (needs confirmation)"),
    ("/restart <deploy> [-n ns]", "滚动重启（需确认）", "rolling restart (needs confirmation)"),
    ("/rollback <deploy> [-n ns]", "回滚（需确认）", "roll back (needs confirmation)"),
    ("/delete pod <pod> [-n ns]", "删除 Pod（需确认）", "delete a pod (needs confirmation)"),
    ("/cordon <node> | /uncordon <node>", "节点停止/恢复调度（需确认）", "cordon/uncordon a node (needs confirmation)"),
    ("/audit [n]", "最近的审计记录", "recent audit entries"),
    *((c.usage, c.help_zh, c.help_en) for c in ONCALL_COMMANDS),  # answered by bot.alerts
    ("/refresh", "刷新缓存", "refresh the cache"),
    ("/reset", "清空对话状态", "forget this conversation"),
    ("/help", "帮助", "help"),
)


class _BadArgs(Exception):
    pass


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _opts(tokens: list[str], flags: dict[str, str], switches: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Split `-n dev --tail 50 --previous x y` into options and positional words."""
    out: dict[str, Any] = {}
    pos: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        key, _, inline = tok.partition("=")
        if key in switches:
            out[switches[key]] = True
        elif key in flags:
            if inline:
                out[flags[key]] = inline
            elif i + 1 < len(tokens):
                i += 1
                out[flags[key]] = tokens[i]
            else:
                raise _BadArgs(tok)
        elif tok.startswith("-") and not tok.lstrip("-").isdigit():
            raise _BadArgs(tok)
        else:
            pos.append(tok)
        i += 1
    return out, pos


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _BadArgs(what) from None


_NS_FLAG = {"-n": "namespace", "--namespace": "namespace"}


def _scoped(o: dict[str, Any], pos: list[str]) -> None:
    """`/scale dev/payment-api 0`, `/logs production/web-1`: a "namespace/name" first word names both."""
    if pos and pos[0].count("/") == 1:
        ns, _, name = pos[0].partition("/")
        if is_name(ns) and is_name(name) and not o.get("namespace"):
            o["namespace"] = ns
            pos[0] = name


def parse_slash(text: str) -> Intent:
    """`/cmd args…` -> an Intent with exact args. Missing arguments are left for slot filling."""
    if len(text) > MAX_PARSE_CHARS:
        return Intent(Kind.TOO_LONG, slash=True)
    tokens = _split(text.strip())
    cmd = tokens[0].lower() if tokens else "/"
    rest = tokens[1:]
    try:
        return _slash(cmd, rest)
    except _BadArgs as exc:
        return Intent(Kind.BAD_COMMAND, value=f"{cmd} {exc}".strip(), slash=True)


def _slash(cmd: str, rest: list[str]) -> Intent:
    def tool(name: str, args: dict[str, Any] | None = None) -> Intent:
        clean = {k: v for k, v in (args or {}).items() if v is not None}
        return Intent(Kind.TOOL, name, clean, slash=True)

    if cmd in ("/help", "/start", "/?"):
        return Intent(Kind.HELP, slash=True)
    if cmd == "/reset":
        return Intent(Kind.RESET, slash=True)
    if cmd == "/refresh":
        return Intent(Kind.REFRESH, slash=True)
    if cmd == "/cancel":
        return Intent(Kind.CANCEL, slash=True)
    if cmd == "/status":
        return Intent(Kind.STATUS, "cluster_overview", slash=True)
    if cmd == "/overview":
        return tool("cluster_overview")
    if cmd in ONCALL_BY_SLASH:  # bot.alerts answers these in front of the engine; here only when it is off
        return Intent(Kind.REFUSE, value="oncall_off", slash=True)
    if cmd == "/audit":
        n = _int(rest[0], "n") if rest else 10
        if not 1 <= n <= 50:
            raise _BadArgs("n must be 1-50")
        return Intent(Kind.AUDIT, value=str(n), slash=True)
    if cmd in ("/clusters",):
        return tool("list_clusters")
    if cmd in ("/ns", "/namespaces"):
        return tool("list_namespaces")
    if cmd == "/nodes":
        return tool("list_nodes")
    if cmd == "/pods":
        o, pos = _opts(
            rest,
            {**_NS_FLAG, "-l": "label_selector", "--selector": "label_selector"},
            {"--failing": "only_unhealthy", "--unhealthy": "only_unhealthy"},
        )
        ns = o.get("namespace") or (pos.pop(0) if pos else None)
        return tool(
            "list_pods",
            {
                "namespace": ns,
                "name_filter": pos[0] if pos else None,
                "only_unhealthy": o.get("only_unhealthy"),
                "label_selector": o.get("label_selector"),
            },
        )
    if cmd in ("/deploys", "/deployments"):
        o, pos = _opts(rest, _NS_FLAG, {})
        return tool("list_deployments", {"namespace": o.get("namespace") or (pos[0] if pos else None)})
    if cmd in ("/svc", "/services"):
        o, pos = _opts(rest, _NS_FLAG, {})
        return tool("list_services", {"namespace": o.get("namespace") or (pos[0] if pos else None)})
    if cmd == "/events":
        o, pos = _opts(rest, _NS_FLAG, {})
        ns = o.get("namespace") or (pos.pop(0) if pos else None)
        return tool("list_events", {"namespace": ns, "object_name": pos[0] if pos else None})
    if cmd == "/logs":
        o, pos = _opts(
            rest,
            {**_NS_FLAG, "--tail": "tail_lines", "-c": "container", "--container": "container"},
            {"--previous": "previous", "-p": "previous", "-f": "follow", "--follow": "follow"},
        )
        _scoped(o, pos)
        if "tail_lines" in o:
            o["tail_lines"] = _int(o["tail_lines"], "--tail")
        return tool("pod_logs", {**o, "pod": pos[0] if pos else None})
    if cmd == "/describe":
        o, pos = _opts(rest, _NS_FLAG, {})
        if pos and pos[0].lower() == "pod":
            pos.pop(0)
        _scoped(o, pos)
        return tool("describe_pod", {**o, "pod": pos[0] if pos else None})
    if cmd == "/health":
        o, pos = _opts(rest, _NS_FLAG, {})
        _scoped(o, pos)
        return tool("workload_health", {**o, "name": pos[0] if pos else None})
    if cmd == "/use":
        if len(rest) >= 2 and rest[0].lower() in ("ns", "namespace"):
            return Intent(Kind.USE_NS, value=rest[1], slash=True)
        if len(rest) >= 2 and rest[0].lower() in ("cluster", "context", "ctx"):
            return Intent(Kind.USE_CLUSTER, value=rest[1], slash=True)
        if len(rest) == 1 and rest[0].lower() in ("ns", "namespace"):
            return tool("list_namespaces")
        if len(rest) == 1 and rest[0].lower() in ("cluster", "context", "ctx"):
            return tool("list_clusters")
        raise _BadArgs("ns|cluster <name>")
    if cmd == "/scale":
        o, pos = _opts(rest, _NS_FLAG, {})
        kind = "deployment"
        if pos and pos[0].lower() in ("sts", "statefulset", "deploy", "deployment"):
            kind = "statefulset" if pos.pop(0).lower() in ("sts", "statefulset") else "deployment"
        _scoped(o, pos)
        if len(pos) >= 2:
            o["replicas"] = _int(pos[1], "replicas")
        name = "scale_statefulset" if kind == "statefulset" else "scale_deployment"
        return tool(name, {**o, kind: pos[0] if pos else None})
    if cmd in ("/restart", "/rollback"):
        o, pos = _opts(rest, {**_NS_FLAG, "--revision": "revision"}, {})
        if "revision" in o:
            o["revision"] = _int(o["revision"], "--revision")
        if pos and pos[0].lower() in ("deploy", "deployment"):
            pos.pop(0)
        _scoped(o, pos)
        name = "restart_deployment" if cmd == "/restart" else "rollback_deployment"
        return tool(name, {**o, "deployment": pos[0] if pos else None})
    if cmd == "/delete":
        o, pos = _opts(rest, _NS_FLAG, {})
        if pos and pos[0].lower() in ("pod", "pods", "po"):
            pos.pop(0)
        _scoped(o, pos)
        return tool("delete_pod", {**o, "pod": pos[0] if pos else None})
    if cmd in ("/cordon", "/uncordon"):
        _o, pos = _opts(rest, {}, {})
        return tool(cmd[1:] + "_node", {"node": pos[0] if pos else None})
    return Intent(Kind.UNKNOWN_COMMAND, value=cmd, slash=True)
