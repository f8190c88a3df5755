"""Understanding a message without an LLM: the rule parser for common zh/en phrasings (slash commands are in
`slash`).

Pure and table-tested. The result is an `Intent`: which tool (or bot command), the arguments the user gave
exactly, fuzzy hints ("cart-service") that slot filling turns into real names, and every other name-like word,
which the engine resolves against the names the cluster actually has (`resolve`). Words and keywords come from
`grammar`; the decisions below only say which keyword wins over which.
"""

from __future__ import annotations

import re
from typing import Any

from bot.conversation.grammar import (
    CLUSTER_ALIASES,
    CONTROL,
    KEYWORDS,
    NAMESPACE_ALIASES,
    REFUSALS,
    STOP,
    SWITCH_KINDS,
    SWITCH_VERBS,
    words_pattern,
)
from bot.conversation.intent import Intent, Kind
from bot.conversation.lexer import (
    MAX_NAME_CHARS,
    MAX_PARSE_CHARS,
    Tok,
    control,
    is_name,
    name_tokens,
    normalize,
    ordinal,
    tokens,
)
from bot.conversation.oncall import match_oncall
from bot.conversation.slash import SLASH_HELP, parse_slash

__all__ = [
    "MAX_PARSE_CHARS",
    "SLASH_HELP",
    "STOP",
    "Intent",
    "Kind",
    "is_list_request",
    "is_more_request",
    "is_quick",
    "name_tokens",
    "normalize",
    "ordinal",
    "parse",
    "parse_slash",
]

_K = {name: words_pattern(zh, en) for name, (zh, en) in KEYWORDS.items()}

_LIST_REQ = words_pattern(
    "列出来|列一下|列出|列给我|都有哪些|有哪些|不确定|不知道|不清楚|看看有什么",
    r"list them|list|not sure|don'?t know|no idea|show (?:me )?(?:the )?options|which ones|show all",
)
_MORE_REQ = frozenset(CONTROL["more"])
_RESET = frozenset(("重置", "重新开始", "清空对话", "reset", "start over"))
_HELP = frozenset(("帮助", "help", "菜单", "menu", "你能做什么", "你会什么", "what can you do", "commands"))
_GREET = frozenset(("hi", "hello", "hey", "你好", "您好", "在吗", "哈喽", "嗨"))
_REFRESH = re.compile(
    r"(?:刷新|清除|清空|清理|更新)[^，。]{0,4}?缓存|"
    + words_pattern("", "refresh|refresh cache|refresh the cache").pattern
)

# Whole numbers only: "扩容到 100000 个副本" must stay 100000 (refused with the allowed range), never become 1000.
_TAIL = re.compile(r"(?:最后|最近|tail|last) ?(\d{1,9})(?!\d)")
_REPLICAS = re.compile(r"(?:到|至|为|成|to|=) ?(\d{1,9})(?!\d)|(?<!\d)(\d{1,9}) ?(?:个副本|副本|个|replicas?)")

_QUICK = {
    "列出所有集群": "list_clusters",
    "查看集群资源总览": "cluster_overview",
    "显示所有命名空间": "list_namespaces",
}

# Cues around a name (see `_places`). Strong cues name the kind; weak ones ("in X", "X 里", "X 的 Y") only
# suggest a namespace, which the engine checks against the cluster.
_NS_BEFORE = frozenset(("-n", "--namespace", "namespace", "ns"))
_NS_AFTER_ASCII = frozenset(("namespace", "ns", "env", "environment"))
_NS_AFTER_ZH = ("命名空间", "名字空间", "环境")
_NS_BEFORE_ZH = ("命名空间", "名字空间")
_WEAK_BEFORE = frozenset(("in", "from", "under", "within"))
_WEAK_AFTER_ZH = ("里", "中", "下", "内", "上的", "上面")
_CONTAINER_BEFORE = frozenset(("container", "-c", "--container"))
_FLAGS_WITH_VALUE = frozenset(("-n", "--namespace", "-c", "--container", "--tail"))
_CLUSTER_WORDS = frozenset(("cluster", "context"))
_ALIASES = sorted(NAMESPACE_ALIASES.items(), key=lambda kv: -len(kv[0]))  # longest first: 生产环境 before 生产
# Chinese words for a cluster ("预发集群"), longest first; the engine resolves them to a known cluster
_ZH_CLUSTERS = sorted((k for k in CLUSTER_ALIASES if not k.isascii()), key=len, reverse=True)
_ZH_PLACES = sorted({*_ZH_CLUSTERS, *(k for k in NAMESPACE_ALIASES if not k.isascii())}, key=len, reverse=True)


def is_more_request(text: str) -> bool:
    """'more' / '下一页' typed at a question with many choices: the next page."""
    return normalize(text) in _MORE_REQ


def is_list_request(text: str) -> bool:
    """'I am not sure, list them' / '我不确定，你列出来吧': offer every option for the slot being asked."""
    return bool(_LIST_REQ.search(normalize(text)))


def is_quick(text: str) -> bool:
    """One of the quick-command buttons' labels, typed (`[查看集群资源总览]`)."""
    bare = normalize(text).strip("[] ")
    return bare in _QUICK or bare == "刷新缓存"


class _Places:
    """Where the name-like words of a message go: namespace, container, cluster, or the free words."""

    def __init__(self, toks: list[Tok]) -> None:
        self.namespace: str | None = None
        self.weak = False
        self.container: str | None = None
        self.cluster: str | None = None
        self.object: str | None = None  # the Y of "dev/Y"
        self.words: list[str] = []
        self._read(toks)

    def _ns(self, name: str, *, weak: bool) -> bool:
        if name in STOP:
            return False
        if self.namespace is None or (self.weak and not weak):
            if self.namespace is not None and self.namespace not in self.words:
                self.words.append(self.namespace)  # a strong cue overrides a weak guess, which becomes a word
            self.namespace, self.weak = name, weak
            return True
        return False

    def _read(self, toks: list[Tok]) -> None:
        n = len(toks)
        for i, tok in enumerate(toks):
            if not tok.ascii:
                said = next((k for k in _ZH_CLUSTERS if k + "集群" in tok.text), None)
                if said is not None:  # "预发集群的节点": a cluster, never the namespace of the same word
                    self.cluster = self.cluster or said
                    continue
                alias = next((v for k, v in _ALIASES if k in tok.text), None)
                if alias is not None:  # "线上的 orders": production, if the cluster has it (the engine checks)
                    self._ns(alias, weak=True)
                continue
            raw = tok.text
            prev = toks[i - 1] if i > 0 else None
            nxt = toks[i + 1] if i + 1 < n else None
            if prev is not None and prev.ascii and prev.text in ("--tail", "-c", "--container") and raw.isdigit():
                continue
            flag, eq, inline = raw.partition("=")
            if eq and flag in _FLAGS_WITH_VALUE:  # "-n=dev", "--tail=50"
                if flag in ("-n", "--namespace") and is_name(inline):
                    self._ns(inline, weak=False)
                elif flag in ("-c", "--container") and is_name(inline):
                    self.container = inline
                continue
            if "/" in raw:  # "dev/payment-api"
                ns, _, obj = raw.partition("/")
                if is_name(ns) and is_name(obj) and "/" not in obj:
                    self._ns(ns, weak=False)
                    self.object = self.object or obj
                    self.words.append(obj)
                continue
            if raw.startswith("-"):
                continue  # a flag ("-n", "--previous"), never a name
            w = raw.strip(".-#")
            if not is_name(w) or w.isdigit():
                continue
            p = prev.text if prev is not None else ""
            pp = toks[i - 2].text if i > 1 else ""
            after = nxt.text if nxt is not None else ""
            if prev is not None and prev.ascii and p in _FLAGS_WITH_VALUE:
                if p in ("-n", "--namespace"):
                    self._ns(w, weak=False)
                elif p in ("-c", "--container"):
                    self.container = w
                continue
            if w in STOP:
                continue
            if (prev is not None and prev.ascii and p in _NS_BEFORE) or (
                prev is not None and not prev.ascii and p.endswith(_NS_BEFORE_ZH)
            ):
                if self._ns(w, weak=False):
                    continue
            if (nxt is not None and nxt.ascii and after in _NS_AFTER_ASCII) or (
                nxt is not None and not nxt.ascii and after.startswith(_NS_AFTER_ZH)
            ):
                if self._ns(w, weak=False):
                    continue
            if (prev is not None and prev.ascii and p in _CONTAINER_BEFORE) or (
                (nxt is not None and not nxt.ascii and after.startswith("容器"))
                or (nxt is not None and nxt.ascii and after == "container")
            ):
                self.container = self.container or w
                continue
            if (prev is not None and prev.ascii and p in _CLUSTER_WORDS) or (
                nxt is not None and (after.startswith("集群") or after in _CLUSTER_WORDS)
            ):
                self.cluster = self.cluster or w
                continue
            weak = (
                (prev is not None and prev.ascii and (p in _WEAK_BEFORE or (p == "the" and pp in _WEAK_BEFORE)))
                or (prev is not None and not prev.ascii and p.endswith("在"))
                or (nxt is not None and not nxt.ascii and after.startswith(_WEAK_AFTER_ZH))
            )
            # "dev 的 payment-api": a scope, then the object inside it
            scope = (
                nxt is not None
                and not nxt.ascii
                and after == "的"
                and i + 2 < n
                and toks[i + 2].ascii
                and is_name(toks[i + 2].text.strip(".-"))
                and toks[i + 2].text.strip(".-") not in STOP
                and not (i + 3 < n and (toks[i + 3].text.startswith("容器") or toks[i + 3].text == "container"))
            )
            if (weak or scope) and self._ns(w, weak=True):
                continue
            if w not in self.words:
                self.words.append(w)


def parse(text: str) -> Intent:
    """Rule-based understanding of one message (no LLM)."""
    if len(text) > MAX_PARSE_CHARS:
        return Intent(Kind.TOO_LONG)
    # an ASCII run longer than any Kubernetes name is neither a name nor a keyword: not worth a pattern's time
    t = " ".join(w for w in normalize(text).split() if len(w) <= MAX_NAME_CHARS or not w.isascii())
    bare = t.strip("[] ")
    if bare in _QUICK:
        return Intent(Kind.TOOL, _QUICK[bare])
    if not t:
        return Intent(Kind.NONE)
    said = control(text)  # the raw text: its commas separate clauses ("nah, forget it")
    if said == "yes":
        return Intent(Kind.YES)
    if said == "no":
        return Intent(Kind.CANCEL)
    if said == "back":
        return Intent(Kind.BACK)
    if said == "more":
        return Intent(Kind.MORE)
    if t in _RESET:
        return Intent(Kind.RESET)
    if t in _HELP:
        return Intent(Kind.HELP)
    if t in _GREET:
        return Intent(Kind.GREET)
    if _REFRESH.search(t):
        return Intent(Kind.REFRESH)
    if match_oncall(text) is not None:  # "有哪些事件", "orders 的指标": bot.alerts answers them when it is on
        return Intent(Kind.REFUSE, value="oncall_off")
    for refusal in REFUSALS:
        if refusal.pattern.search(t):
            return Intent(Kind.REFUSE, value=refusal.key)
    toks = tokens(t)
    switch = _switch(t)
    if switch is not None:
        return switch
    places = _Places(toks)
    return _decide(t, places)


def _switch(t: str) -> Intent | None:
    """ "切到 staging 集群" / "换到 production" / "switch to namespace dev" / "切回 sandbox"."""
    m = SWITCH_VERBS.search(t)
    if m is None:
        return None
    rest = tokens(t[m.end() :])
    if len(rest) > 5:
        return None  # a sentence that merely contains "use": not a switch
    kind: str | None = None
    name: str | None = None
    for tok in rest:
        for k, words in SWITCH_KINDS.items():
            if tok.text in words or (not tok.ascii and any(w in tok.text for w in words if not w.isascii())):
                kind = kind or k
        w = tok.text.strip(".-")
        if tok.ascii and name is None and is_name(w) and w not in STOP and w not in SWITCH_KINDS["namespace"]:
            name = w
    if name is None:
        # "切到预发集群" / "切回线上": a Chinese word for a cluster or namespace (the engine resolves it)
        zh = " ".join(tok.text for tok in rest if not tok.ascii)
        said = next((k for k in _ZH_PLACES if k in zh), None)
        if said is None:
            return None
        name = NAMESPACE_ALIASES.get(said, said) if kind == "namespace" else said
    return Intent(Kind.SWITCH, tool=kind, value=name)


def _decide(t: str, pl: _Places) -> Intent:
    k = _K
    ns = pl.namespace
    container = pl.container
    words = tuple(w for w in pl.words if w not in (ns, container))
    target = words[0] if words else None
    base_args: dict[str, Any] = {"namespace": ns} if ns else {}
    extra = {"words": words, "scoped": pl.weak, "cluster": pl.cluster}

    def hint(slot: str) -> dict[str, str]:
        return {slot: target} if target else {}

    def tool(name: str, args: dict[str, Any], hints: dict[str, str], **kw: Any) -> Intent:
        return Intent(Kind.TOOL, name, args, hints, target=None if ns else target, **{**extra, **kw})

    refers = target is None and bool(k["refers"].search(t))
    at = ordinal(t) if target is None else None
    # Mutations first: "重启 cart-service-v1" must never read as something else. "重启它" refers to what was
    # just shown; the engine turns that into hints to pick from, never into a ready-made target.
    if k["uncordon"].search(t):
        return tool("uncordon_node", {}, hint("node"))
    if k["cordon"].search(t):
        return tool("cordon_node", {}, hint("node"))
    if k["delete"].search(t) and k["pods"].search(t):
        return tool("delete_pod", base_args, hint("pod"), refers=refers)
    if k["rollback"].search(t):
        return tool("rollback_deployment", base_args, hint("deployment"), refers=refers)
    restart = k["restart"].search(t)
    # "把 payment-api 重启了" is an order; "payment-api 重启了" (without 把) reports one
    asks_why = k["restart_question"].search(t.replace("重启了", "重启") if "把" in t else t)
    if restart and asks_why and not target:
        return tool("list_pods", base_args, {})  # "哪些 pod 在重启": a question; the list shows the restarts
    if restart and not (asks_why and target):
        if k["pods"].search(t) and not k["deploys"].search(t):
            return tool("delete_pod", base_args, hint("pod"), refers=refers)
        return tool("restart_deployment", base_args, hint("deployment"), refers=refers)
    if k["scale"].search(t):
        args = dict(base_args)
        m = _REPLICAS.search(t)
        if m:
            args["replicas"] = int(m.group(1) or m.group(2))
        if k["statefulset"].search(t):
            return tool("scale_statefulset", args, hint("statefulset"))
        return tool("scale_deployment", args, hint("deployment"), refers=refers)

    if (k["health"].search(t) or restart) and target:
        return tool("workload_health", base_args, {"name": target}, plan=True)
    if k["logs"].search(t) or (container and not k["events"].search(t) and not k["describe"].search(t)):
        args = dict(base_args)
        if k["previous"].search(t):
            args["previous"] = True
            refers = refers or target is None  # "上一次的日志" / "previous logs": of the pod just shown
        if container:
            args["container"] = container
            refers = refers or target is None  # "container nginx-sidecar": another container of that pod
        m = _TAIL.search(t)
        if m:
            args["tail_lines"] = int(m.group(1))  # out of range: the engine says so and uses the nearest
        return tool("pod_logs", args, hint("pod"), refers=refers, position=at)
    if k["events"].search(t):
        args = {**base_args, "warnings_only": True} if k["warnings"].search(t) else dict(base_args)
        return tool("list_events", args, hint("object_name"), refers=refers, position=at)
    if k["describe"].search(t):
        return tool("describe_pod", base_args, hint("pod"), refers=refers, position=at)
    if k["clusters"].search(t):
        return tool("list_clusters", {}, {})
    if k["nodes"].search(t):
        return tool("list_nodes", {}, {})
    healthish = k["health"].search(t) or k["unhealthy"].search(t) or k["symptom"].search(t)
    if k["pods"].search(t):
        args = dict(base_args)
        if k["unhealthy"].search(t):
            args["only_unhealthy"] = True
        return tool("list_pods", args, hint("name_filter"))
    if healthish and not target and (k["mine"].search(t) or k["whole"].search(t) or ns):
        # "我的服务挂了吗" / "dev 环境整体健康吗" / "is anything broken": the health of the workloads, not a listing
        if ns:
            return tool("list_pods", base_args, {})
        return tool("cluster_overview", {}, {})
    if k["deploys"].search(t):
        return tool("list_deployments", base_args, {})
    if k["services"].search(t):
        return tool("list_services", base_args, {})
    if k["namespaces"].search(t):
        return tool("list_namespaces", {}, {})
    if k["symptom"].search(t) and target:
        return tool("workload_health", base_args, {"name": target}, plan=True)
    if healthish or k["overview"].search(t) or k["cluster_word"].search(t):
        if ns and not target:
            return tool("list_pods", base_args, {})
        return tool("cluster_overview", {}, {})
    return Intent(Kind.NONE, args=base_args, words=words, scoped=pl.weak, cluster=pl.cluster)
