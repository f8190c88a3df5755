"""Understanding a message without an LLM: slash commands and a rule parser for common zh/en phrasings.

Pure functions, table-tested. The result is an `Intent`: which tool (or bot command), the arguments the user
gave exactly, and fuzzy hints ("cart-service") that slot filling turns into real names.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TOOL = "tool"
    HELP = "help"
    RESET = "reset"
    REFRESH = "refresh"
    USE_NS = "use_ns"
    USE_CLUSTER = "use_cluster"
    CANCEL = "cancel"
    GREET = "greet"
    AUDIT = "audit"  # /audit [n]: recent audit entries (the gate decides who may see them)
    STATUS = "status"  # /status: cluster overview plus the health of the tool sources
    UNKNOWN_COMMAND = "unknown_command"
    BAD_COMMAND = "bad_command"  # a known command with unusable arguments
    NONE = "none"  # nothing recognised


@dataclass(frozen=True)
class Intent:
    kind: Kind
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # exact values
    hints: dict[str, str] = field(default_factory=dict)  # slot -> fuzzy words
    refers: bool = False  # "its events" / "它的日志": the last pod mentioned
    plan: bool = False  # a health check to confirm before running
    value: str | None = None  # /use ns|cluster argument; the bad command's name
    slash: bool = False
    target: str | None = None  # the first name-like word ("production 的事件"): maybe a namespace, the engine checks
    position: int | None = None  # "第二个的日志": a row of the pod list just shown (1-based, -1 = the last)


NAME = r"[a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?"
_NAME_RE = re.compile(NAME)
_PUNCT = str.maketrans({c: " " for c in "，。？！：；、,?!;:“”\"'（）()[]【】「」<>《》"})

# Words that are never a resource name in a request.
STOP = frozenset(
    """k8s kubernetes kubectl pod pods log logs the of me show list get in namespace namespaces ns events event
    describe deployment deployments deploy deploys service services svc node nodes cluster clusters status overview
    check health healthy hi hello hey please pls for a an is it its what whats are there which all my and to on at
    from see view look tail lines line previous prev restart rollback roll back scale delete kill cordon uncordon
    with this that one should be not sure them can you i im m s how about any do does up replicas replica state
    let lets have has give tell info information details detail whole current last first second third crash
    crashed crashing unhealthy failing broken running find where here now again pls thanks thank wrong going
    happened happening problem problems issue issues check container containers warning warnings why
    keeps keep restarting top usage errors error down""".split()
)

ORDINALS_EN = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def normalize(text: str) -> str:
    return " ".join(text.translate(_PUNCT).lower().split())


def _kw(words: str) -> re.Pattern[str]:
    """English keywords must stand alone (not inside `cart-service`); Chinese ones match anywhere. The boundary is
    ASCII-only: in "删除这个pod" / "看下dev的pod" a CJK neighbour (a regex word character) is still a boundary."""
    return re.compile(rf"(?<![a-z0-9_\-])(?:{words})(?![a-z0-9_\-])")


def name_tokens(text: str) -> list[str]:
    """Candidate resource names in the text, in order, without keywords or bare numbers."""
    out: list[str] = []
    for m in _NAME_RE.finditer(normalize(text)):
        tok = m.group(0)
        if tok in STOP or tok.isdigit() or tok in out:
            continue
        out.append(tok)
    return out


def ordinal(text: str) -> int | None:
    """1-based position the user points at: "第二个", "the second one", "#2", "最后一个" (-1)."""
    t = normalize(text)
    m = re.search(r"第\s*([一二两三四五六七八九十]|\d+)\s*(?:个|项|条|行)?", t)
    if m:
        v = m.group(1)
        return int(v) if v.isdigit() else _ZH_DIGITS[v]
    if re.search(r"最后一个|(?<![a-z0-9_\-])last(?: one)?(?![a-z0-9_\-])", t):
        return -1
    for word, n in ORDINALS_EN.items():
        if re.search(rf"(?<![a-z0-9_\-]){word}(?![a-z0-9_\-])", t):
            return n
    m = re.fullmatch(r"(?:#|no\.?\s*|number\s*)(\d+)", t)
    if m:
        return int(m.group(1))
    return None


_LIST_REQ = re.compile(
    r"列出来|列一下|列出|列给我|都有哪些|有哪些|不确定|不知道|不清楚|看看有什么|"
    r"(?<![a-z0-9_\-])(?:list them|list|not sure|don'?t know|no idea|show (?:me )?(?:the )?options|which ones|show all)(?![a-z0-9_\-])"
)


_MORE_REQ = re.compile(r"^(?:更多|还有吗|还有呢|下一页|下页|再来一些|more|show more|next|next page|more please)$")


def is_more_request(text: str) -> bool:
    """'more' / '下一页' typed at a question with many choices: the next page."""
    return bool(_MORE_REQ.match(normalize(text)))


def is_list_request(text: str) -> bool:
    """'I am not sure, list them' / '我不确定，你列出来吧': offer every option for the slot being asked."""
    return bool(_LIST_REQ.search(normalize(text).replace("’", "'")))


# ---------------------------------------------------------------- the rule parser

_NS_PATTERNS = [
    re.compile(rf"(?:-n|--namespace)[ =]({NAME})"),
    re.compile(rf"(?<![a-z0-9_\-])(?:namespace|ns)\s+({NAME})"),
    re.compile(rf"({NAME})\s*(?:命名空间|名字空间|namespace(?![a-z0-9_\-]))"),
    re.compile(rf"(?:命名空间|名字空间)\s*({NAME})"),
    re.compile(rf"(?<![a-z0-9_\-])(?:in|from|under)\s+(?:the\s+)?({NAME})"),
    re.compile(rf"在\s*({NAME})"),
    re.compile(rf"({NAME})\s*(?:里|中的|中|下的|下面|内|上的)"),
]

_CANCEL = re.compile(r"^(?:取消|算了|不用了|cancel|never ?mind|stop|abort)$")
_RESET = re.compile(r"^(?:重置|重新开始|清空对话|reset|start over)$")
_REFRESH = re.compile(r"刷新缓存|清除缓存|清空缓存|(?<![a-z0-9_\-])refresh(?: (?:the )?cache)?(?![a-z0-9_\-])")
_HELP = re.compile(r"^(?:帮助|help|菜单|menu|你能做什么|你会什么|what can you do|commands)$")
_GREET = re.compile(r"^(?:hi|hello|hey|你好|您好|在吗|哈喽|嗨)$")

_UNCORDON = re.compile(r"解除封锁|取消封锁|恢复调度|" + _kw("uncordon").pattern)
_CORDON = re.compile(r"封锁|禁止调度|停止调度|" + _kw("cordon").pattern)
_RESTART = re.compile(r"重启|" + _kw("restart|rollout restart|bounce").pattern)
_ROLLBACK = re.compile(r"回滚|" + _kw("rollback|roll back|undo").pattern)
_SCALE = re.compile(r"扩容|缩容|扩缩容|副本数|" + _kw("scale|scale up|scale down").pattern)
_DELETE = re.compile(r"删除|删掉|干掉|" + _kw("delete|kill|remove").pattern)
_HEALTH = re.compile(
    r"健康|诊断|排查|体检|怎么了|出了什么问题|有什么问题|为什么|为啥|"
    + _kw("health|healthy|diagnose|troubleshoot|what'?s wrong|what is wrong|wrong with|why").pattern
)
# "orders 为什么一直重启" / "why does orders keep restarting" ask WHY: a diagnosis, never a restart proposal
_RESTART_QUESTION = re.compile(
    r"为什么|为啥|怎么.{0,4}重启|一直重启|反复重启|不停重启|频繁重启|重启了|重启次数|在重启|正在重启|重启中|哪些|有没有|"
    + _kw(r"why|keeps? restarting|restarting|restarted|restart count|which|any").pattern
)
_LOGS = re.compile(r"日志|" + _kw("logs?").pattern)
_PREVIOUS = re.compile(r"上一次|上次|之前的|崩溃前|前一个|" + _kw("previous|prev|last crash").pattern)
_EVENTS = re.compile(r"事件|" + _kw("events?").pattern)
_DESCRIBE = re.compile(r"描述|详情|详细信息|" + _kw("describe|details?").pattern)
_NODES = re.compile(r"节点|" + _kw("nodes?").pattern)
_NAMESPACES = re.compile(r"命名空间|名字空间|" + _kw("namespaces?|ns").pattern)
_DEPLOYS = re.compile(r"部署|工作负载|" + _kw("deployments?|deploys?|workloads?").pattern)
_SERVICES = re.compile(r"服务|" + _kw("services?|svc").pattern)
_PODS = re.compile(r"容器组|实例|" + _kw("pods?").pattern)
_CLUSTERS = re.compile(r"集群列表|哪些集群|所有集群|列出.*集群|" + _kw("clusters|contexts?|list clusters").pattern)
_OVERVIEW = re.compile(r"状态|概况|总览|概览|怎么样|情况|" + _kw("status|overview|summary|how is|how's").pattern)
_UNHEALTHY = re.compile(
    r"异常|不健康|有问题|失败|崩溃|报错|出错|起不来|挂了|不正常|"
    + _kw(r"unhealthy|failing|crash\w*|broken|not running|errors?").pattern
)
# A symptom with a name ("frontend 拉不到镜像", "payment-api 一直 crash"): diagnose that workload
_SYMPTOM = re.compile(
    r"拉不到|拉取失败|起不来|启动失败|报错|出错|挂了|不正常|异常|崩溃|一直重启|"
    + _kw(r"crash\w*|failing|broken|down|errors?|not starting|not running").pattern
)
_REFERS = re.compile(r"它的|它|这个pod|那个pod|该pod|" + _kw("its|it'?s|it|this pod|that pod").pattern)
_STS = _kw("statefulsets?|sts")
_WARNINGS = re.compile(r"告警|警告|" + _kw("warnings?").pattern)
_CONTAINER = (
    re.compile(rf"(?<![a-z0-9_\-])(?:container|-c|--container)[ =]({NAME})"),  # "container web", "-c web"
    re.compile(rf"({NAME})\s*(?:容器|container(?![a-z0-9_\-]))"),  # "web 容器", "the sidecar container"
)
# Whole numbers only: "扩容到 100000 个副本" must stay 100000 (refused with the allowed range), never become 1000.
_TAIL = re.compile(r"(?:最后|最近|tail|last)\s*(\d{1,9})(?!\d)\s*(?:行|lines?)?")
_REPLICAS = re.compile(r"(?:到|至|为|成|to|=)\s*(\d{1,9})(?!\d)|(?<!\d)(\d{1,9})\s*(?:个副本|副本|个|replicas?)")

_QUICK = {
    "列出所有集群": "list_clusters",
    "查看集群资源总览": "cluster_overview",
    "显示所有命名空间": "list_namespaces",
}


def is_quick(text: str) -> bool:
    """One of the quick-command buttons' labels, typed (`[查看集群资源总览]`)."""
    return normalize(text).strip("[] ") in _QUICK or normalize(text).strip("[] ") == "刷新缓存"


def _namespace(t: str) -> str | None:
    for pat in _NS_PATTERNS:
        m = pat.search(t)
        if m and m.group(1) not in STOP:
            return m.group(1)
    return None


def _container(t: str) -> str | None:
    for pat in _CONTAINER:
        for m in pat.finditer(t):
            if m.group(1) not in STOP:
                return m.group(1)
    return None


# `-n dev`, `--tail 50`, `-c web` in a pasted kubectl line: their values are not the object the user means
_FLAG_VALUES = re.compile(r"(?<![a-z0-9_\-])(?:-n|--namespace|-c|--container|--tail)[ =]\S+")


def _target(t: str, exclude: set[str]) -> str | None:
    for tok in name_tokens(t):
        if tok not in exclude:
            return tok
    return None


def parse(text: str) -> Intent:
    """Rule-based understanding of one message (no LLM)."""
    t = normalize(text).replace("’", "'")
    bare = t.strip("[] ")
    if bare in _QUICK:
        return Intent(Kind.TOOL, _QUICK[bare])
    if not t:
        return Intent(Kind.NONE)
    if _CANCEL.match(t):
        return Intent(Kind.CANCEL)
    if _RESET.match(t):
        return Intent(Kind.RESET)
    if _HELP.match(t):
        return Intent(Kind.HELP)
    if _REFRESH.search(t):
        return Intent(Kind.REFRESH)
    ns = _namespace(t)
    container = _container(t)
    exclude = {x for x in (ns, container) if x}
    target = _target(_FLAG_VALUES.sub(" ", t), exclude)
    base_args: dict[str, Any] = {"namespace": ns} if ns else {}

    def hint(slot: str) -> dict[str, str]:
        return {slot: target} if target else {}

    def tool(name: str, args: dict[str, Any], hints: dict[str, str], **kw: Any) -> Intent:
        return Intent(Kind.TOOL, name, args, hints, target=None if ns else target, **kw)

    refers = target is None and bool(_REFERS.search(t))
    at = ordinal(t) if target is None else None
    # Mutations first: "重启 cart-service-v1" must never read as something else. "重启它" refers to what was
    # just shown; the engine turns that into hints to pick from, never into a ready-made target.
    if _UNCORDON.search(t):
        return Intent(Kind.TOOL, "uncordon_node", {}, hint("node"))
    if _CORDON.search(t):
        return Intent(Kind.TOOL, "cordon_node", {}, hint("node"))
    if _DELETE.search(t) and _PODS.search(t):
        return Intent(Kind.TOOL, "delete_pod", base_args, hint("pod"), refers=refers)
    if _ROLLBACK.search(t):
        return Intent(Kind.TOOL, "rollback_deployment", base_args, hint("deployment"), refers=refers)
    if _RESTART.search(t) and _RESTART_QUESTION.search(t) and not target:
        return tool("list_pods", base_args, {})  # "哪些 pod 在重启": a question; the list shows the restarts
    if _RESTART.search(t) and not (_RESTART_QUESTION.search(t) and target):
        if _PODS.search(t) and not _DEPLOYS.search(t):
            return Intent(Kind.TOOL, "delete_pod", base_args, hint("pod"), refers=refers)
        return Intent(Kind.TOOL, "restart_deployment", base_args, hint("deployment"), refers=refers)
    if _SCALE.search(t):
        args = dict(base_args)
        m = _REPLICAS.search(t)
        if m:
            args["replicas"] = int(m.group(1) or m.group(2))
        if _STS.search(t):
            return Intent(Kind.TOOL, "scale_statefulset", args, hint("statefulset"))
        return Intent(Kind.TOOL, "scale_deployment", args, hint("deployment"), refers=refers)

    if (_HEALTH.search(t) or _RESTART.search(t)) and target:
        return Intent(Kind.TOOL, "workload_health", base_args, {"name": target}, plan=True)
    if _LOGS.search(t) or (container and not _EVENTS.search(t) and not _DESCRIBE.search(t)):
        args = dict(base_args)
        if _PREVIOUS.search(t):
            args["previous"] = True
            refers = refers or target is None  # "上一次的日志" / "previous logs": of the pod just shown
        if container:
            args["container"] = container
            refers = refers or target is None  # "container nginx-sidecar": another container of that pod
        m = _TAIL.search(t)
        if m:
            args["tail_lines"] = int(m.group(1))  # out of range: the engine says so and uses the nearest
        return tool("pod_logs", args, hint("pod"), refers=refers, position=at)
    if _EVENTS.search(t):
        args = {**base_args, "warnings_only": True} if _WARNINGS.search(t) else dict(base_args)
        return tool("list_events", args, hint("object_name"), refers=refers, position=at)
    if _DESCRIBE.search(t):
        return tool("describe_pod", base_args, hint("pod"), refers=refers, position=at)
    if _CLUSTERS.search(t):
        return Intent(Kind.TOOL, "list_clusters")
    if _NODES.search(t):
        return Intent(Kind.TOOL, "list_nodes")
    if _PODS.search(t):
        args = dict(base_args)
        if _UNHEALTHY.search(t):
            args["only_unhealthy"] = True
        return tool("list_pods", args, hint("name_filter"))
    if _DEPLOYS.search(t):
        return tool("list_deployments", base_args, {})
    if _SERVICES.search(t):
        return tool("list_services", base_args, {})
    if _NAMESPACES.search(t):
        return Intent(Kind.TOOL, "list_namespaces")
    if _SYMPTOM.search(t) and target:
        return Intent(Kind.TOOL, "workload_health", base_args, {"name": target}, plan=True)
    if (
        _HEALTH.search(t)
        or _SYMPTOM.search(t)
        or _OVERVIEW.search(t)
        or re.search(r"(?<![a-z0-9_\-])(?:k8s|kubernetes|集群)(?![a-z0-9_\-])", t)
    ):
        return Intent(Kind.TOOL, "cluster_overview")
    if _GREET.match(t):
        return Intent(Kind.GREET)
    return Intent(Kind.NONE)


# ---------------------------------------------------------------- slash commands

SLASH_HELP = (
    ("/status", "集群资源总览", "cluster overview"),
    ("/ns", "命名空间列表", "namespaces"),
    ("/pods [ns] [filter]", "Pod 列表", "pods"),
    ("/logs [pod] [-n ns] [--tail N] [--previous] [-c container]", "Pod 日志", "pod logs"),
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


def parse_slash(text: str) -> Intent:
    """`/cmd args…` -> an Intent with exact args. Missing arguments are left for slot filling."""
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
        o, pos = _opts(rest, _NS_FLAG, {})
        ns = o.get("namespace") or (pos.pop(0) if pos else None)
        return tool("list_pods", {"namespace": ns, "name_filter": pos[0] if pos else None})
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
            {"--previous": "previous", "-p": "previous"},
        )
        if "tail_lines" in o:
            o["tail_lines"] = _int(o["tail_lines"], "--tail")
        return tool("pod_logs", {**o, "pod": pos[0] if pos else None})
    if cmd == "/describe":
        o, pos = _opts(rest, _NS_FLAG, {})
        if pos and pos[0].lower() == "pod":
            pos.pop(0)
        return tool("describe_pod", {**o, "pod": pos[0] if pos else None})
    if cmd == "/health":
        o, pos = _opts(rest, _NS_FLAG, {})
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
        name = "restart_deployment" if cmd == "/restart" else "rollback_deployment"
        return tool(name, {**o, "deployment": pos[0] if pos else None})
    if cmd == "/delete":
        o, pos = _opts(rest, _NS_FLAG, {})
        if pos and pos[0].lower() in ("pod", "pods", "po"):
            pos.pop(0)
        return tool("delete_pod", {**o, "pod": pos[0] if pos else None})
    if cmd in ("/cordon", "/uncordon"):
        _o, pos = _opts(rest, {}, {})
        return tool(cmd[1:] + "_node", {"node": pos[0] if pos else None})
    return Intent(Kind.UNKNOWN_COMMAND, value=cmd, slash=True)
