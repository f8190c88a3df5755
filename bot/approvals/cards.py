"""Cards of the safety layer: refusals, confirmation (dry-run preview), progress, outcome, audit. Pure."""

from __future__ import annotations

from typing import Any

from bot.approvals.approvers import approve_audience, approvers_block
from bot.approvals.record import ApprovalRecord
from bot.core.actions import Action, run_tool_action
from bot.core.i18n import Lang, tr
from bot.policy import CallFacts, Decision, Policy, Why
from bot.policy.approvers import approvers_for
from bot.render.model import (
    TRUNCATED_EN,
    TRUNCATED_ZH,
    Block,
    Button,
    ButtonStyle,
    Card,
    Code,
    Fields,
    Markdown,
    Note,
    Table,
    Tone,
    bound_text,
)
from bot.render.names import display
from tools.catalogue import CATALOGUE
from tools.redact import mask_text

CONFIRM = "approval.confirm"
CANCEL = "approval.cancel"

VALUE_LIMIT = 200  # one field value on a card
TEXT_LIMIT = 1500  # an error or tool text on a card
MAX_CHANGES = 12  # before -> after lines on a card


def _b(lang: Lang | str, text: str, limit: int = VALUE_LIMIT) -> str:
    # Defence in depth: tools redact, and we mask again before anything reaches a chat.
    marker = TRUNCATED_ZH if str(lang) == "zh" else TRUNCATED_EN
    return bound_text(mask_text(text), limit, marker)[0]


def where(lang: Lang | str, f: CallFacts) -> str:
    ns = f.namespace or tr(lang, "（集群级 / 全部命名空间）", "(cluster scope / all namespaces)")
    return tr(lang, "集群 `{c}` 命名空间 `{n}`", "cluster `{c}`, namespace `{n}`", c=f.cluster, n=ns)


def missing_permission(lang: Lang | str, f: CallFacts) -> str:
    return tr(
        lang,
        "对 `{r}` 执行 `{v}`（工具 `{t}`），{w}",
        "`{v}` on `{r}` (tool `{t}`) in {w}",
        v=f.verb,
        r=f.resource or f.tool,
        t=f.tool,
        w=where(lang, f),
    )


def refusal_text(lang: Lang | str, f: CallFacts, d: Decision) -> str:
    if d.why is Why.CHAT_NOT_ALLOWED:
        return tr(
            lang,
            "这个群没有开通 KubeDuty 的权限（或你在这里没有任何角色），请联系管理员把群加入策略文件。",
            "KubeDuty is not enabled for you in this chat (no role here); ask an admin to add the chat to the policy.",
        )
    if d.why is Why.DENIED_BY_RULE:
        return tr(
            lang,
            "策略规则 `{rule}` 禁止：{what}。",
            "Policy rule `{rule}` forbids: {what}.",
            rule=d.rule,
            what=missing_permission(lang, f),
        )
    return tr(
        lang,
        "你缺少权限：{what}。你在这里的角色：{roles}。",
        "You are missing the permission: {what}. Your roles here: {roles}.",
        what=missing_permission(lang, f),
        roles=", ".join(d.roles) or "-",
    )


def refusal_card(lang: Lang | str, f: CallFacts, d: Decision) -> Card:
    return Card(
        title=tr(lang, "没有权限", "Not allowed"),
        tone=Tone.DANGER,
        blocks=(
            Markdown(refusal_text(lang, f, d)),
            Note(tr(lang, "集群没有任何改动。", "Nothing in the cluster was changed.")),
        ),
    )


def dry_run_error_card(lang: Lang | str, f: CallFacts, code: str | None, error: str) -> Card:
    head = {
        "not_found": tr(lang, "找不到要修改的对象。", "The object to change was not found."),
        "invalid": tr(lang, "参数不对。", "The arguments are not valid."),
        "forbidden": tr(lang, "集群拒绝了这个操作（RBAC）。", "The cluster refused this (RBAC)."),
        "unavailable": tr(lang, "集群暂时连不上。", "The cluster is not reachable right now."),
    }.get(code or "", tr(lang, "预演（dry run）失败了。", "The dry run failed."))
    return Card(
        title=tr(lang, "无法预演这个改动", "Cannot preview this change"),
        tone=Tone.DANGER,
        blocks=(
            Markdown(f"{head} {where(lang, f)}"),
            Code(_b(lang, error or "-", TEXT_LIMIT)),
            Note(tr(lang, "没有创建审批，集群没有任何改动。", "No approval was created; nothing was changed.")),
        ),
    )


def _object(call_args: dict[str, Any], preview: dict[str, Any] | None) -> str:
    if preview and preview.get("name"):
        return f"{preview.get('kind') or ''}/{preview['name']}".lstrip("/")
    for key in ("deployment", "statefulset", "pod", "node", "name"):
        if call_args.get(key):
            return f"{key}/{call_args[key]}"
    return "-"


def change_blocks(lang: Lang | str, rec: ApprovalRecord) -> tuple[Block, ...]:
    f, p, args = rec.facts, rec.preview, rec.call.args
    items: list[tuple[str, str]] = [
        (tr(lang, "集群", "Cluster"), _b(lang, f.cluster)),
        (tr(lang, "命名空间", "Namespace"), _b(lang, f.namespace or "-")),
        (tr(lang, "对象", "Object"), _b(lang, _object(args, p))),
        (tr(lang, "操作", "Action"), _b(lang, str((p or {}).get("action") or f.verb))),
        (tr(lang, "风险", "Risk"), risk_label(lang, f.risk)),
    ]
    blocks: list[Block] = [Fields(tuple(items))]
    if p is not None:
        before, after = p.get("before") or {}, p.get("after") or {}
        keys = list(dict.fromkeys([*before, *after]))
        rows = tuple(
            (_b(lang, str(k), 60), _b(lang, str(before.get(k, "-"))), _b(lang, str(after.get(k, "-"))))
            for k in keys[:MAX_CHANGES]
        )
        more = (
            tr(lang, "只显示 {n} / {t} 项", "showing {n} of {t}", n=MAX_CHANGES, t=len(keys))
            if len(keys) > MAX_CHANGES
            else None
        )
        if rows:
            cols = (tr(lang, "字段", "Field"), tr(lang, "之前", "Before"), tr(lang, "之后", "After"))
            blocks.append(Table(cols, rows, truncated=more))
        if p.get("summary") and str(lang) == Lang.EN.value:
            blocks.append(Markdown(_b(lang, str(p["summary"]), 400)))
        elif p.get("summary"):
            # The tool's summary is English; the table above already says what changes.
            blocks.append(Markdown("以上是服务器端预演（dry run）的结果，尚未执行。"))
    else:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(args.items()) if k != "dry_run")
        blocks.append(
            Markdown(tr(lang, "此工具不支持预演，将按以下参数执行：", "This tool has no dry run; it will run with:"))
        )
        blocks.append(Code(_b(lang, shown or "-", TEXT_LIMIT)))
    return tuple(blocks)


_RISK = {"low": ("低", "low"), "medium": ("中", "medium"), "high": ("高", "high"), "critical": ("严重", "critical")}
# The console's own placeholder for its one user: a word of ours, so it follows the card's language
_PLACEHOLDER_NAMES = {"you": ("你", "you")}


def tool_title(lang: Lang | str, tool: str) -> str:
    """A built-in tool's title in the card's language; an external tool keeps its own name."""
    spec = CATALOGUE.get(tool)
    return tr(lang, spec.title_zh, spec.title_en) if spec is not None else tool


def risk_label(lang: Lang | str, risk: str) -> str:
    zh, en = _RISK.get(str(risk), (str(risk), str(risk)))
    return tr(lang, zh, en)


# Fields a change touches, in words for a Chinese card (an unknown field keeps its API name)
_FIELD_ZH = {
    "replicas": "副本数",
    "restartedAt": "重启时间",
    "unschedulable": "不可调度",
    "revision": "版本",
    "image": "镜像",
    "images": "镜像",
    "deleted": "已删除",
    "phase": "阶段",
}


def _name(lang: Lang | str, name: str) -> str:
    # a subject ("console:alice") shows as the name its channel learned, so one person reads one way on a card
    name = display(name)
    return tr(lang, *_PLACEHOLDER_NAMES[name]) if name in _PLACEHOLDER_NAMES else name


def _who(rec: ApprovalRecord, lang: Lang | str = Lang.EN) -> str:
    known = display(rec.requester)  # the same form as the approvers' names when the channel knows this person
    return _name(lang, known if known != rec.requester else rec.requester_name or rec.requester)


def confirm_card(lang: Lang | str, rec: ApprovalRecord, ttl_minutes: int, *, policy: Policy | None = None) -> Card:
    """The confirmation card. With the `policy`, the people who may approve are @-mentioned and the Approve
    button is meant for them alone (`Button.audience`: DingTalk shows it only to them; everywhere the gate checks
    the clicker again). A requester's own Confirm stays on the shared card: no one else is waited for."""
    blocks = list(change_blocks(lang, rec))
    who = (
        approvers_for(policy, requester=rec.requester, chat=rec.chat, facts=rec.facts, roles=rec.approver_roles)
        if policy is not None and rec.needed
        else None
    )
    audience = approve_audience(rec, who)
    if rec.needed:
        blocks.append(
            Note(
                tr(
                    lang,
                    "需要 {n} 位其他人（角色：{roles}）批准，发起人 {who} 不能自己批准。已批准：{done}/{n}{names}",
                    "Needs {n} approval(s) by someone else with the role {roles}; the requester {who} cannot approve. "
                    "Approved: {done}/{n}{names}",
                    n=rec.needed,
                    roles=" / ".join(rec.approver_roles),
                    who=_who(rec, lang),
                    done=rec.count,
                    names=f" ({', '.join(_name(lang, a) for a in rec.approvals)})" if rec.approvals else "",
                ),
                Tone.WARNING,
            )
        )
        if who is not None:
            blocks.append(approvers_block(lang, rec, who))
        confirm_label = tr(lang, "批准并执行", "Approve")
    else:
        blocks.append(
            Note(tr(lang, "只有发起人 {who} 可以确认。", "Only the requester {who} can confirm.", who=_who(rec, lang)))
        )
        confirm_label = tr(lang, "确认执行", "Confirm")
    return Card(
        title=tr(lang, "确认改动：{t}", "Confirm change: {t}", t=tool_title(lang, rec.call.tool)),
        tone=Tone.WARNING,
        blocks=tuple(blocks),
        buttons=(
            Button(confirm_label, Action(CONFIRM, {"id": rec.id}), ButtonStyle.PRIMARY, audience),
            Button(tr(lang, "取消", "Cancel"), Action(CANCEL, {"id": rec.id}), ButtonStyle.DANGER),
        ),
        footer=tr(
            lang,
            "{m} 分钟内有效 · 只会执行这一次，且正是上面这个调用 · 审批号 {id}",
            "Valid for {m} min · runs exactly this call, once · approval {id}",
            m=ttl_minutes,
            id=rec.id[:8],
        ),
        meta={"approval_id": rec.id},
    )


def _next_steps(lang: Lang | str, rec: ApprovalRecord) -> tuple[Button, ...]:
    """What to look at after a change ran: its pods and health, or the nodes (with the way back for a cordon)."""
    a = rec.call.args
    scope = {"cluster": a.get("cluster")}
    ns = a.get("namespace")
    workload = a.get("deployment") or a.get("statefulset")
    tool = rec.call.tool
    if workload and ns:
        buttons = [
            Button(
                tr(lang, "查看 {w} 的 Pod", "Pods of {w}", w=workload),
                run_tool_action("list_pods", {**scope, "namespace": ns, "name_filter": workload}),
            )
        ]
        if a.get("deployment"):
            buttons.append(
                Button(
                    tr(lang, "健康检查", "Health check"),
                    run_tool_action("workload_health", {**scope, "namespace": ns, "name": workload}),
                )
            )
        return tuple(buttons)
    if tool == "delete_pod" and ns:
        return (
            Button(
                tr(lang, "{ns} 的 Pod", "Pods in {ns}", ns=ns), run_tool_action("list_pods", {**scope, "namespace": ns})
            ),
        )
    if tool in ("cordon_node", "uncordon_node") and a.get("node"):
        back = "uncordon_node" if tool == "cordon_node" else "cordon_node"
        label = (
            tr(lang, "恢复调度 {n}", "Uncordon {n}", n=a["node"])
            if back == "uncordon_node"
            else tr(lang, "停止调度 {n}", "Cordon {n}", n=a["node"])
        )
        return (
            Button(tr(lang, "节点列表", "Nodes"), run_tool_action("list_nodes", scope)),
            Button(label, run_tool_action(back, {**scope, "node": a["node"]})),  # itself confirmed again
        )
    return ()


def outcome_card(
    lang: Lang | str, rec: ApprovalRecord, *, ok: bool, by: str, detail: dict[str, Any] | None, text: str
) -> Card:
    approved = ", ".join(_name(lang, a) for a in rec.approvals) if rec.approvals else _name(lang, by)
    blocks: list[Block] = [
        Fields(
            (
                (tr(lang, "发起人", "Requested by"), _who(rec, lang)),
                (tr(lang, "批准 / 确认", "Approved / confirmed by"), _b(lang, approved)),
            )
        ),
        *change_blocks(lang, rec)[:1],
    ]
    if ok:
        if detail and (detail.get("after") or detail.get("summary")):
            before = detail.get("before") or {}
            zh = str(lang) == Lang.ZH.value
            changed = [
                f"- {_FIELD_ZH.get(k, f'`{k}`') if zh else f'`{k}`'}: {before.get(k, '-')} → {v}"
                for k, v in list((detail.get("after") or {}).items())[:MAX_CHANGES]
            ]
            # the tool's summary is English: a Chinese card says the same in its own words
            summary = "已执行，改动如下：" if zh and changed else "已执行。" if zh else str(detail.get("summary") or "")
            text = "\n".join([summary, *changed]).strip()
            blocks.append(Markdown(_b(lang, text, 600)))
        elif text:
            blocks.append(Code(_b(lang, text, TEXT_LIMIT)))
    else:
        blocks.append(Markdown(tr(lang, "Kubernetes API 返回错误：", "The Kubernetes API returned an error:")))
        blocks.append(Code(_b(lang, text or "-", TEXT_LIMIT)))
    return Card(
        title=(
            tr(lang, "已执行：{t}", "Done: {t}", t=tool_title(lang, rec.call.tool))
            if ok
            else tr(lang, "执行失败：{t}", "Failed: {t}", t=tool_title(lang, rec.call.tool))
        ),
        tone=Tone.SUCCESS if ok else Tone.DANGER,
        blocks=tuple(blocks),
        buttons=_next_steps(lang, rec) if ok else (),
        footer=tr(lang, "审批号 {id}", "approval {id}", id=rec.id[:8]),
        meta={"approval_id": rec.id},
    )


def closed_card(lang: Lang | str, rec: ApprovalRecord, *, cancelled_by: str | None) -> Card:
    if cancelled_by:
        title = tr(lang, "已取消：{t}", "Cancelled: {t}", t=tool_title(lang, rec.call.tool))
        note = tr(
            lang,
            "{who} 取消了这个改动，集群没有改动。",
            "{who} cancelled it; nothing was changed.",
            who=_name(lang, cancelled_by),
        )
    else:
        title = tr(lang, "已过期：{t}", "Expired: {t}", t=tool_title(lang, rec.call.tool))
        note = tr(
            lang, "审批已过期，集群没有改动。请重新发起。", "The approval expired; nothing was changed. Ask again."
        )
    return Card(
        title=title,
        tone=Tone.INFO,
        blocks=(*change_blocks(lang, rec)[:1], Note(note)),
        footer=tr(lang, "审批号 {id}", "approval {id}", id=rec.id[:8]),
        meta={"approval_id": rec.id},
    )


def audit_table(lang: Lang | str, rows: list[dict[str, str]], n: int) -> Card:
    cols = (
        tr(lang, "时间", "Time"),
        tr(lang, "用户", "User"),
        tr(lang, "事件", "Event"),
        tr(lang, "请求", "Request"),
        tr(lang, "结果", "Decision / result"),
    )
    body = tuple(
        (
            r.get("time", "")[5:19].replace("T", " "),
            _b(lang, r.get("user", ""), 40),
            r.get("event", ""),
            _b(lang, r.get("request", ""), 80),
            _b(lang, " ".join(x for x in (r.get("decision", ""), r.get("result", "")) if x), 80),
        )
        for r in rows
    )
    blocks: list[Block] = [
        Table(
            cols,
            body,
            truncated=tr(lang, "最新 {n} 条", "newest {n}", n=len(rows)) if len(rows) >= n else None,
        )
    ]
    if not rows:
        blocks = [Markdown(tr(lang, "这个群还没有审计记录。", "No audit entries for this chat yet."))]
    return Card(title=tr(lang, "审计记录", "Audit log"), blocks=tuple(blocks))
