"""Result cards: one view per tool result model, and a bounded generic view for unknown (external) tools.

Pure: data in, `Card` out (buttons are added by the conversation engine, which knows what comes next).
Every list and text is bounded with a visible "truncated" marker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.core.i18n import Lang, tr
from bot.render.logview import logs_blocks
from bot.render.model import (
    TRUNCATED_EN,
    TRUNCATED_ZH,
    Block,
    Card,
    Code,
    Fields,
    Markdown,
    Note,
    Table,
    Tone,
    bound_tail,
    bound_text,
)
from bot.render.views_zh import PROBLEMS_ZH, change_zh, quoted
from tools.k8s import models as m

MAX_ROWS = 20
MAX_TEXT_CHARS = 2500
MAX_CELL = 60
MAX_WIDE_CELL = 300  # an event's message: the renderer's own cell limit applies on top


def marker(lang: Lang) -> str:
    return tr(lang, TRUNCATED_ZH, TRUNCATED_EN)


def age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def memory(quantity: str) -> str:
    """`16393576Ki` -> `15.6Gi`: node capacity as people read it; other forms are shown as given."""
    units = {"Ki": 1, "Mi": 1024, "Gi": 1024**2}
    for suffix, factor in units.items():
        number = quantity[: -len(suffix)]
        if quantity.endswith(suffix) and number.isdigit():
            kib = int(number) * factor
            return f"{kib / 1024**2:.1f}Gi" if kib >= 1024**2 else f"{kib / 1024:.0f}Mi"
    return quantity


def cell(text: object) -> str:
    s = str(text)
    return s if len(s) <= MAX_CELL else s[: MAX_CELL - 1] + "…"


def table(
    lang: Lang,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    total: int | None = None,
    *,
    wide_last: bool = False,
    max_rows: int = MAX_ROWS,
) -> Table:
    """`wide_last`: the last column is prose (an event's message): kept up to MAX_WIDE_CELL, the platform
    renderer bounds it further where it must."""
    total = len(rows) if total is None else max(total, len(rows))
    shown = rows[:max_rows]
    note = None
    if total > len(shown):
        note = tr(lang, "仅显示 {n}/{t} 条（已截断）", "showing {n} of {t} (truncated)", n=len(shown), t=total)

    def line(r: Sequence[object]) -> tuple[str, ...]:
        out = [cell(c) for c in r]
        if wide_last and r:
            last = str(r[-1])
            out[-1] = last if len(last) <= MAX_WIDE_CELL else last[: MAX_WIDE_CELL - 1] + "…"
        return tuple(out)

    return Table(columns=tuple(columns), rows=tuple(line(r) for r in shown), truncated=note)


def _cluster_list(r: m.ClusterList, lang: Lang) -> list[Block]:
    rows = [(("* " if c.current else "  ") + c.name, c.server) for c in r.items]
    return [table(lang, (tr(lang, "集群", "Cluster"), tr(lang, "地址", "Server")), rows)]


def _overview(r: m.ClusterOverview, lang: Lang) -> list[Block]:
    phases = ", ".join(f"{k} {v}" for k, v in sorted(r.pods_by_phase.items())) or "-"
    blocks: list[Block] = [
        Fields(
            (
                (tr(lang, "集群", "Cluster"), r.cluster or "-"),
                (tr(lang, "版本", "Version"), r.version or "-"),
                (
                    tr(lang, "节点", "Nodes"),
                    tr(lang, "{a}/{b} 就绪", "{a}/{b} ready", a=r.nodes_ready, b=r.nodes_total),
                ),
                (tr(lang, "命名空间", "Namespaces"), str(len(r.namespaces))),
                (tr(lang, "Pod", "Pods"), f"{r.pods_total} ({phases})"),
                (
                    tr(lang, "Deployment", "Deployments"),
                    tr(
                        lang,
                        "{t} 个，{u} 个未就绪",
                        "{t}, {u} not ready",
                        t=r.deployments_total,
                        u=len(r.deployments_unavailable),
                    ),
                ),
            )
        )
    ]
    if r.unhealthy_pods:
        rows = [(p.namespace, p.name, p.reason, str(p.restarts)) for p in r.unhealthy_pods]
        blocks.append(Markdown(tr(lang, "**异常 Pod（{n}）**", "**Unhealthy pods ({n})**", n=len(r.unhealthy_pods))))
        blocks.append(
            table(
                lang,
                (tr(lang, "命名空间", "Namespace"), "Pod", tr(lang, "原因", "Reason"), tr(lang, "重启", "Restarts")),
                rows,
            )
        )
    if r.deployments_unavailable:
        drows = [(d.namespace, d.name, f"{d.ready}/{d.desired}") for d in r.deployments_unavailable]
        blocks.append(Markdown(tr(lang, "**未就绪的 Deployment**", "**Deployments not ready**")))
        blocks.append(table(lang, (tr(lang, "命名空间", "Namespace"), "Deployment", tr(lang, "就绪", "Ready")), drows))
    if not r.unhealthy_pods and not r.deployments_unavailable:
        blocks.append(Note(tr(lang, "一切正常。", "Everything looks healthy."), Tone.SUCCESS))
    return blocks


def _namespaces(r: m.NamespaceList, lang: Lang) -> list[Block]:
    rows = [(n.name, n.phase, age(n.age_seconds)) for n in r.items]
    return [table(lang, (tr(lang, "命名空间", "Namespace"), tr(lang, "状态", "Status"), tr(lang, "存在", "Age")), rows)]


def _pods(r: m.PodList, lang: Lang) -> list[Block]:
    return pod_blocks(r, lang)


def pod_blocks(r: m.PodList, lang: Lang, *, max_rows: int = MAX_ROWS) -> list[Block]:
    """A pod table; a paged list passes its page as `r` and the page's size as `max_rows`."""
    if not r.items:
        return [Markdown(tr(lang, "没有找到 Pod。", "No pods found."))]
    cols: tuple[str, ...] = (
        "Pod",
        tr(lang, "就绪", "Ready"),
        tr(lang, "状态", "Status"),
        tr(lang, "重启", "Restarts"),
        tr(lang, "存在", "Age"),
    )
    rows: list[tuple[str, ...]] = [(p.name, p.ready, p.status, str(p.restarts), age(p.age_seconds)) for p in r.items]
    if r.namespace is None:
        cols = (tr(lang, "命名空间", "Namespace"), *cols)
        rows = [(p.namespace, *row) for p, row in zip(r.items, rows, strict=True)]
    total = r.total if r.total >= len(r.items) else len(r.items)
    if r.truncated and total == len(r.items):
        total += 1  # the tool cut the list without a count: still show the marker
    blocks: list[Block] = [table(lang, cols, rows, total, max_rows=max_rows)]
    bad = [p for p in r.items if not p.healthy]
    if bad:
        blocks.append(Note(tr(lang, "{n} 个 Pod 不健康。", "{n} pod(s) unhealthy.", n=len(bad)), Tone.WARNING))
    return blocks


def warnings_first(items: Sequence[m.EventInfo]) -> list[m.EventInfo]:
    """Warnings before normal events, each group in the tool's order (newest first)."""
    return sorted(items, key=lambda e: e.type != "Warning")


def event_rows(items: Sequence[m.EventInfo]) -> list[tuple[str, ...]]:
    return [(e.type, e.reason, e.object, str(e.count), age(e.last_seen_seconds), e.message) for e in items]


def event_columns(lang: Lang) -> tuple[str, ...]:
    # the message last: it is the long one, and a last column can run on without misaligning the others
    return (
        tr(lang, "类型", "Type"),
        tr(lang, "原因", "Reason"),
        tr(lang, "对象", "Object"),
        tr(lang, "次数", "Count"),
        tr(lang, "最近", "Last"),
        tr(lang, "消息", "Message"),
    )


def _events(r: m.EventList, lang: Lang) -> list[Block]:
    if not r.items:
        return [Markdown(tr(lang, "没有相关事件。", "No events."))]
    rows = event_rows(warnings_first(r.items))
    total = r.total + (1 if r.truncated and r.total <= len(r.items) else 0)
    return [table(lang, event_columns(lang), rows, total, wide_last=True)]


def _describe(r: m.PodDetail, lang: Lang) -> list[Block]:
    blocks: list[Block] = [
        Fields(
            (
                (tr(lang, "状态", "Status"), f"{r.status} ({r.phase})"),
                (tr(lang, "节点", "Node"), r.node or "-"),
                ("IP", r.pod_ip or "-"),
                (tr(lang, "所属", "Owner"), r.owner or "-"),
                (tr(lang, "启动于", "Started"), age(r.start_seconds_ago)),
            )
        )
    ]
    rows = []
    for c in r.containers:
        state = c.state + (f" ({c.reason})" if c.reason else "")
        rows.append((c.name, c.image, "✓" if c.ready else "✗", str(c.restarts), state, c.last_state or "-"))
    if rows:
        cols = (
            tr(lang, "容器", "Container"),
            tr(lang, "镜像", "Image"),
            tr(lang, "就绪", "Ready"),
            tr(lang, "重启", "Restarts"),
            tr(lang, "状态", "State"),
            tr(lang, "上次状态", "Last state"),
        )
        blocks.append(table(lang, cols, rows))
    bad_conditions = [c for c in r.conditions if c.status != "True"]
    if bad_conditions:
        if lang == Lang.ZH:
            # the condition's message is the cluster's English: quoted as data under our own label
            lines = "\n".join(
                f"- {c.type}：{c.reason or '-'}" + (f"，集群消息：{quoted(c.message)}" if c.message else "")
                for c in bad_conditions[:8]
            )
        else:
            lines = "\n".join(f"- {c.type}: {c.reason} {c.message}".rstrip() for c in bad_conditions[:8])
        blocks.append(Markdown(tr(lang, "**未满足的条件**\n", "**Conditions not met**\n") + lines))
    if r.events:
        ev = m.EventList(items=r.events[:10], total=len(r.events))
        blocks.append(Markdown(tr(lang, "**最近事件**", "**Recent events**")))
        blocks.extend(_events(ev, lang))
    return blocks


def _deployments(r: m.DeploymentList, lang: Lang) -> list[Block]:
    if not r.items:
        return [Markdown(tr(lang, "没有找到 Deployment。", "No deployments found."))]
    rows = [
        (d.namespace, d.name, f"{d.ready}/{d.desired}", str(d.updated), str(d.available), ", ".join(d.images))
        for d in r.items
    ]
    cols = (
        tr(lang, "命名空间", "Namespace"),
        "Deployment",
        tr(lang, "就绪", "Ready"),
        tr(lang, "已更新", "Up-to-date"),
        tr(lang, "可用", "Available"),
        tr(lang, "镜像", "Images"),
    )
    return [table(lang, cols, rows, r.total)]


def _services(r: m.ServiceList, lang: Lang) -> list[Block]:
    if not r.items:
        return [Markdown(tr(lang, "没有找到 Service。", "No services found."))]
    rows = [(s.namespace, s.name, s.type, s.cluster_ip or "-", ", ".join(s.ports)) for s in r.items]
    cols = (
        tr(lang, "命名空间", "Namespace"),
        "Service",
        tr(lang, "类型", "Type"),
        "Cluster IP",
        tr(lang, "端口", "Ports"),
    )
    return [table(lang, cols, rows, r.total)]


def _nodes(r: m.NodeList, lang: Lang) -> list[Block]:
    rows = [
        (
            n.name,
            ("Ready" if n.ready else "NotReady") + (",SchedulingDisabled" if n.unschedulable else ""),
            ",".join(n.roles) or "-",
            n.version,
            n.cpu,
            memory(n.memory),
        )
        for n in r.items
    ]
    cols = (
        tr(lang, "节点", "Node"),
        tr(lang, "状态", "Status"),
        tr(lang, "角色", "Roles"),
        tr(lang, "版本", "Version"),
        "CPU",
        tr(lang, "内存", "Memory"),
    )
    return [table(lang, cols, rows)]


def _finding_line(f: m.Finding, lang: Lang) -> str:
    """In zh: the analyzer's own Chinese sentence; without one the detail is cluster text (an event's message),
    shown quoted as data. Done here, not by the caller, so every path (conversation, LLM plan) gets it."""
    if lang != Lang.ZH:
        return f"- **{f.kind}/{f.name}** {f.problem}: {f.detail}".rstrip(": ")
    head = f"- **{f.kind}/{f.name}** {PROBLEMS_ZH.get(f.problem, f.problem)}"
    if f.detail_zh:
        return f"{head}：{f.detail_zh}"
    return f"{head}：{quoted(f.detail)}" if f.detail else head


def _health(r: m.WorkloadHealth, lang: Lang) -> list[Block]:
    verdict = (
        Note(tr(lang, "`{n}` 看起来是健康的。", "`{n}` looks healthy.", n=r.name), Tone.SUCCESS)
        if r.healthy
        else Note(
            tr(lang, "`{n}` 有问题，见下方发现。", "`{n}` has problems; see the findings.", n=r.name), Tone.DANGER
        )
    )
    blocks: list[Block] = [verdict]
    if r.deployments:
        blocks.extend(_deployments(m.DeploymentList(items=r.deployments, total=len(r.deployments)), lang))
    if r.pods:
        blocks.extend(_pods(m.PodList(namespace=r.namespace, items=r.pods, total=len(r.pods)), lang)[:1])
    if r.findings:
        lines = []
        for f in r.findings[:10]:
            advice = f.advice_zh if lang == Lang.ZH and f.advice_zh else f.advice_en
            lines.append(_finding_line(f, lang) + (f" → {advice}" if advice else ""))
        if len(r.findings) > 10:
            lines.append(marker(lang))
        text, _ = bound_text("\n".join(lines), MAX_TEXT_CHARS, marker(lang))
        blocks.append(Markdown(tr(lang, "**发现**\n", "**Findings**\n") + text))
    for key, lines in list(r.logs.items())[:2]:
        text, cut = bound_tail("\n".join(lines), 1200, marker(lang))
        blocks.append(Markdown(tr(lang, "**`{k}` 的日志**", "**Logs of `{k}`**", k=key)))
        blocks.append(Code(text, truncated=marker(lang) if cut else None))
    warn = [e for e in r.events if e.type == "Warning"]
    if warn:
        blocks.extend(_events(m.EventList(items=warn, total=len(warn)), lang))
    return blocks


def _change(r: m.ChangePreview, lang: Lang) -> list[Block]:
    if lang == Lang.ZH:
        return change_zh(r)
    target = f"{r.kind} {r.namespace + '/' if r.namespace else ''}{r.name}"
    pairs = [(k, f"{r.before.get(k, '-')} → {r.after.get(k, '-')}") for k in sorted(set(r.before) | set(r.after))]
    dry = tr(lang, "（预演，未改动）", " (dry run, nothing changed)") if r.dry_run else ""
    blocks: list[Block] = [Markdown(f"**{r.action}** {target}{dry}")]
    if pairs:
        blocks.append(Fields(tuple(pairs)))
    if r.summary:
        blocks.append(Markdown(r.summary))
    return blocks


_VIEWS: dict[str, tuple[type[BaseModel], Callable[[Any, Lang], list[Block]]]] = {
    "list_clusters": (m.ClusterList, _cluster_list),
    "cluster_overview": (m.ClusterOverview, _overview),
    "list_namespaces": (m.NamespaceList, _namespaces),
    "list_pods": (m.PodList, _pods),
    "pod_logs": (m.LogResult, logs_blocks),
    "list_events": (m.EventList, _events),
    "describe_pod": (m.PodDetail, _describe),
    "list_deployments": (m.DeploymentList, _deployments),
    "list_services": (m.ServiceList, _services),
    "list_nodes": (m.NodeList, _nodes),
    "workload_health": (m.WorkloadHealth, _health),
}
for _mut in (
    "scale_deployment",
    "scale_statefulset",
    "restart_deployment",
    "rollback_deployment",
    "delete_pod",
    "cordon_node",
    "uncordon_node",
):
    _VIEWS[_mut] = (m.ChangePreview, _change)


def generic(data: dict[str, Any] | None, text: str, lang: Lang) -> list[Block]:
    """Any other tool: its text, or its JSON, bounded."""
    body = text.strip() or (json.dumps(data, ensure_ascii=False, indent=1) if data is not None else "")
    if not body:
        return [Markdown(tr(lang, "（没有输出）", "(no output)"))]
    shown, cut = bound_text(body, MAX_TEXT_CHARS, marker(lang))
    return [Code(shown, truncated=tr(lang, "输出过长，已截断", "output too long, truncated") if cut else None)]


def result_blocks(tool: str, data: dict[str, Any] | None, text: str, lang: Lang) -> list[Block]:
    view = _VIEWS.get(tool)
    if view is not None and data is not None:
        model, fn = view
        try:
            return fn(model.model_validate(data), lang)
        except ValidationError:
            pass  # an external tool reusing a name: fall back to the generic view
    return generic(data, text, lang)


def tone_of(tool: str, data: dict[str, Any] | None) -> Tone:
    if not isinstance(data, dict):
        return Tone.INFO
    if tool == "cluster_overview" and (data.get("unhealthy_pods") or data.get("deployments_unavailable")):
        return Tone.WARNING
    if tool == "workload_health":
        return Tone.SUCCESS if data.get("healthy") else Tone.DANGER
    if tool == "list_pods" and any(not p.get("healthy", True) for p in data.get("items", []) if isinstance(p, dict)):
        return Tone.WARNING
    return Tone.INFO


def result_card(title: str, tool: str, data: dict[str, Any] | None, text: str, lang: Lang) -> Card:
    return Card(title=title, blocks=tuple(result_blocks(tool, data, text, lang)), tone=tone_of(tool, data))


def error_blocks(lang: Lang, message: str, code: str | None) -> list[Block]:
    text, _ = bound_text(message or "-", 800, marker(lang))
    hints = {
        "unavailable": tr(
            lang, "集群暂时无法访问，请稍后再试。", "The cluster is not reachable right now; try again shortly."
        ),
        "forbidden": tr(lang, "没有权限执行这个操作。", "You are not allowed to do this."),
        "not_found": tr(lang, "对象不存在（可能已被删除）。", "That object does not exist (it may have been deleted)."),
        "invalid": tr(lang, "参数不正确。", "An argument is not valid."),
    }
    blocks: list[Block] = [Markdown(text)]
    if code in hints:
        blocks.append(Note(hints[code], Tone.WARNING))
    return blocks
