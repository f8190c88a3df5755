"""Offering only the tools a question needs: fewer tokens, fewer wrong picks.

Keyword matching in Chinese and English onto a tool's resource, verb and name words; the basic reads (pods,
namespaces, events, overview, workload health) are always offered so the model can look names up instead of
guessing them.
"""

from __future__ import annotations

import re

from bot.tooling.types import ToolInfo

# keyword (lower-case; zh matched as substrings) -> resources it points at
RESOURCE_WORDS: dict[str, tuple[str, ...]] = {
    "pods": ("pod", "pods", "容器组", "实例", "容器", "container", "crash", "崩溃", "oom", "重启次数", "backoff"),
    "deployments": (
        "deployment",
        "deployments",
        "deploy",
        "部署",
        "应用",
        "服务",
        "app",
        "workload",
        "负载",
        "副本",
        "replica",
    ),
    "statefulsets": ("statefulset", "statefulsets", "sts", "有状态"),
    "services": ("service", "services", "svc", "服务", "端口", "port", "endpoint"),
    "nodes": ("node", "nodes", "节点", "机器", "主机", "cordon", "drain", "封锁", "隔离"),
    "namespaces": ("namespace", "namespaces", "ns", "命名空间", "名字空间", "项目"),
    "events": ("event", "events", "事件", "warning", "告警", "报错", "why", "为什么", "原因"),
    "clusters": ("cluster", "clusters", "集群", "context", "上下文"),
}

# keyword -> verbs it points at
VERB_WORDS: dict[str, tuple[str, ...]] = {
    "logs": ("log", "logs", "日志", "输出", "报错", "error", "exception", "异常", "stack"),
    "scale": ("scale", "扩容", "缩容", "扩缩", "副本", "replicas", "replica"),
    "restart": ("restart", "重启", "bounce", "rollout restart"),
    "rollback": ("rollback", "roll back", "回滚", "undo", "revert"),
    "delete": ("delete", "删除", "kill", "杀掉", "remove"),
    "cordon": ("cordon", "封锁", "隔离", "不可调度"),
    "uncordon": ("uncordon", "解除封锁", "恢复调度"),
    "diagnose": (
        "diagnose",
        "诊断",
        "排查",
        "health",
        "健康",
        "为什么",
        "why",
        "怎么了",
        "what's wrong",
        "异常",
        "不正常",
        "broken",
        "down",
        "挂了",
    ),
    "describe": ("describe", "detail", "details", "详情", "详细", "yaml", "spec", "env", "环境变量", "镜像", "image"),
    "list": ("list", "show", "列出", "查看", "看看", "有哪些", "多少", "all", "所有"),
}


DIAGNOSE_NAMES = {"health", "diagnose", "diagnosis", "overview", "analyze", "troubleshoot"}


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if w}


def _hits(text_lower: str, words: set[str], keywords: tuple[str, ...]) -> bool:
    for kw in keywords:
        if re.search(r"[^\x00-\x7f]", kw) or " " in kw:
            if kw in text_lower:
                return True
        elif kw in words:
            return True
    return False


def _basic_rank(info: ToolInfo) -> int | None:
    """How basic a read is (lower = more): listing names first, so the model looks them up instead of guessing."""
    if info.mutates:
        return None
    lists = info.verb in ("list", "get")
    if lists and info.resource == "namespaces":
        return 0
    if info.verb == "list" and info.resource == "pods":
        return 1
    if lists and info.resource == "events":
        return 2
    name = info.name.lower()
    if info.verb in ("diagnose", "health") or "health" in name or "diagnose" in name:
        return 3
    if info.verb == "overview" or "overview" in name:
        return 4
    if info.verb == "get" and info.resource == "pods":
        return 5
    return None


def select_tools(text: str, tools: list[ToolInfo], limit: int = 12) -> list[ToolInfo]:
    """The tools most relevant to `text`, best first; the basic reads always among them (space permitting)."""
    if len(tools) <= limit:
        return list(tools)
    lower = text.lower()
    words = _words(text)
    resources = {res for res, kws in RESOURCE_WORDS.items() if _hits(lower, words, kws)}
    verbs = {verb for verb, kws in VERB_WORDS.items() if _hits(lower, words, kws)}

    def score(info: ToolInfo) -> int:
        name_words = _words(info.name) | _words(info.resource) | _words(info.verb)
        if name_words & DIAGNOSE_NAMES:
            name_words.add("diagnose")  # workload_health, cluster_overview ... answer "why is X broken"
        s = 0
        if info.resource and info.resource.split("/")[0] in resources:  # "pods/log" is about pods
            s += 4
        if info.verb in verbs or name_words & verbs:
            s += 4
        # singular/plural-tolerant match of the tool's name words against the text (external tools have no resource)
        s += 2 * len({w.rstrip("s") for w in name_words if len(w) > 2} & {w.rstrip("s") for w in words if len(w) > 2})
        if info.mutates and not (verbs & {"scale", "restart", "rollback", "delete", "cordon", "uncordon"}):
            s -= 6  # nobody asked for a change: keep changes out of the model's way
        return s

    ranked = sorted(enumerate(tools), key=lambda it: (-score(it[1]), it[0]))
    ranked_basics = sorted(
        ((rank, i) for i, info in enumerate(tools) if (rank := _basic_rank(info)) is not None), key=lambda it: it
    )
    basics = [tools[i] for _, i in ranked_basics][: max(0, limit // 2)]
    chosen: list[ToolInfo] = list(basics)
    for _, info in ranked:
        if len(chosen) >= limit:
            break
        if info not in chosen and score(info) >= 0:  # unrequested changes stay out
            chosen.append(info)
    # best first: the keyword matches, then the basics that did not match
    return sorted(chosen, key=lambda i: (-score(i), tools.index(i)))[:limit]
