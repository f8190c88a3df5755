"""Chinese wording of change previews, built from the structured before/after (the tool's `summary` is English,
kept for the English path and the MCP server), and quoting of cluster text shown on a Chinese card.

Actions, field labels and values are declared as data here so a new change tool only adds rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.render.model import Block, Fields, Markdown
from tools.k8s import models as m

MAX_QUOTED = 300

ACTIONS_ZH = {
    "scale": "扩缩容",
    "restart": "重启",
    "rollback": "回滚",
    "delete": "删除",
    "cordon": "封锁",
    "uncordon": "解除封锁",
    "set_resources": "调整资源",
}
FIELDS_ZH = {
    "replicas": "副本数",
    "restartedAt": "重启时间",
    "revision": "版本",
    "image": "镜像",
    "status": "状态",
    "node": "节点",
    "unschedulable": "不可调度",
    "resources": "资源",
}
VALUES_ZH = {"true": "是", "false": "否", "deleted": "已删除"}
# the analyzers' own problem words; Kubernetes reasons (CrashLoopBackOff, OOMKilled ...) stay as people know them
PROBLEMS_ZH = {"Unavailable": "不可用", "Degraded": "部分可用", "Cordoned": "已封锁"}

# the delete tool says in its English summary whether a controller recreates the pod (not a structured field)
_REPLACED = re.compile(r"its controller \(([^)]*)\) will create a replacement")


def quoted(text: str) -> str:
    """Cluster text as a code span: it reads as data, not as our sentence. Bounded; backticks cannot close it."""
    flat = " ".join(text.split()).replace("`", "'")
    if len(flat) > MAX_QUOTED:
        flat = flat[: MAX_QUOTED - 1] + "…（已截断）"
    return f"`{flat}`"


def _target(r: m.ChangePreview) -> str:
    return quoted(f"{r.namespace}/{r.name}" if r.namespace else r.name)


def _scale(r: m.ChangePreview) -> str:
    b, a = r.before.get("replicas", "-"), r.after.get("replicas", "-")
    return f"把 {r.kind} {_target(r)} 的副本数从 {b} 调整为 {a}"


def _restart(r: m.ChangePreview) -> str:
    n = r.before.get("replicas", "?")
    return f"滚动重启 {r.kind} {_target(r)}（共 {n} 个 Pod，逐个替换）"


def _rollback(r: m.ChangePreview) -> str:
    b, a = r.before.get("revision", "-"), r.after.get("revision", "-")
    line = f"把 {r.kind} {_target(r)} 从第 {b} 版回滚到第 {a} 版"
    if r.before.get("image") or r.after.get("image"):
        line += f"（镜像 {quoted(r.before.get('image') or '-')} → {quoted(r.after.get('image') or '-')}）"
    return line


def _delete(r: m.ChangePreview) -> str:
    line = f"删除 Pod {_target(r)}"
    found = _REPLACED.search(r.summary)
    if found:
        return line + f"；其控制器（{quoted(found.group(1))}）会创建新的 Pod"
    if "no controller" in r.summary:
        return line + "；它没有控制器：删除后**不会**被重建"
    return line


def _node(r: m.ChangePreview) -> str:
    verb = ACTIONS_ZH.get(r.action, r.action)
    effect = "新 Pod 不再调度到该节点" if r.action == "cordon" else "该节点重新接受新 Pod"
    line = f"{verb}节点 {_target(r)}（{effect}）"
    if r.before.get("unschedulable") == r.after.get("unschedulable"):
        line += "，已是该状态，无变化"
    return line


_SENTENCES: dict[str, Callable[[m.ChangePreview], str]] = {
    "scale": _scale,
    "restart": _restart,
    "rollback": _rollback,
    "delete": _delete,
    "cordon": _node,
    "uncordon": _node,
}


def change_zh(r: m.ChangePreview) -> list[Block]:
    verb = ACTIONS_ZH.get(r.action, "变更")
    dry = "（预演，未改动）" if r.dry_run else ""
    blocks: list[Block] = [Markdown(f"**{verb}** {r.kind} {_target(r)}{dry}")]
    keys = sorted(set(r.before) | set(r.after))
    if keys:

        def value(v: str | None) -> str:
            return VALUES_ZH.get(v or "-", v or "-")

        # unknown keys (a container's `limits.cpu`) are cluster field names: shown as they are
        blocks.append(
            Fields(tuple((FIELDS_ZH.get(k, k), f"{value(r.before.get(k))} → {value(r.after.get(k))}") for k in keys))
        )
    sentence = _SENTENCES.get(r.action)
    if sentence is not None:
        blocks.append(Markdown(("预演，将会：" if r.dry_run else "已完成：") + sentence(r)))
    return blocks
