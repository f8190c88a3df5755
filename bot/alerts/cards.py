"""Alert, storm-digest and incident cards (pure: incident in, card view model out), in the route's language."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.alerts.incidents import AlertState, Incident
from bot.alerts.routing import Priority, oncall_entry
from bot.core.actions import Action
from bot.core.cards import Button, ButtonStyle, Card, Fields, Markdown, Mention, Note, Table, Tone
from bot.core.i18n import Lang, tr

MAX_ALERT_ROWS = 10
MAX_TIMELINE_ROWS = 8
MAX_REPORT_TIMELINE_ROWS = 20
MAX_STORM_ROWS = 15
MAX_MENTIONED = 20

OP_CLAIM = "al.claim"
OP_DIAGNOSE = "al.diag"
OP_SILENCE = "al.sil"
OP_UNSILENCE = "al.unsil"
OP_RUNBOOK = "al.rb"
ALERT_OPS = frozenset({OP_CLAIM, OP_DIAGNOSE, OP_SILENCE, OP_UNSILENCE, OP_RUNBOOK})

_KIND_TEXT: dict[str, tuple[str, str]] = {
    "fired": ("告警触发", "fired"),
    "notified": ("已通知", "notified"),
    "escalated": ("已加急提醒值班人", "on-call people escalated (urgent)"),
    "escalation_failed": ("加急提醒失败（卡片已送达）", "urgent escalation failed (the card was delivered)"),
    "recorded": ("仅记录（P3）", "recorded only (P3)"),
    "alert_resolved": ("部分告警恢复", "alerts resolved"),
    "resolved": ("已恢复", "resolved"),
    "claimed": ("已认领", "claimed"),
    "diagnosed": ("已诊断", "diagnosed"),
    "silenced": ("已静默", "silenced"),
    "unsilenced": ("已取消静默", "unsilenced"),
    "runbook_proposed": ("建议执行预案", "runbook proposed"),
    "storm": ("告警风暴：并入汇总卡片", "alert storm: folded into the digest card"),
    "runbook_executed": ("预案已执行", "runbook executed"),
    "runbook_failed": ("预案未执行", "runbook not executed"),
    "runbook_unknown": ("预案结果未知，请检查", "runbook outcome unknown, checking needed"),
    "verified": ("修复已验证", "fix verified"),
    "verify_timeout": ("验证未通过（超时），仍在观察", "not verified in time; still watching"),
    "verify_unknown": ("无法验证（无 Prometheus）", "cannot verify (no Prometheus)"),
}


def hhmm(ts: float | None, lang: Lang) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M:%S UTC")


def duration(seconds: float | None, lang: Lang) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return tr(lang, "{n} 秒", "{n}s", n=s)
    if s < 3600:
        return tr(lang, "{m} 分 {s} 秒", "{m}m {s}s", m=s // 60, s=s % 60)
    return tr(lang, "{h} 小时 {m} 分", "{h}h {m}m", h=s // 3600, m=(s % 3600) // 60)


def target_of(labels: dict[str, str], *, workload_first: bool = False) -> str:
    """The object an alert is about, as people say it: `namespace/pod` or the node or the job. A group's title
    names the workload (`workload_first`): its pods come and go while the group stays."""
    ns = labels.get("namespace", "")
    first = labels.get("deployment") or labels.get("statefulset") if workload_first else None
    name = (
        first
        or labels.get("pod")
        or labels.get("deployment")
        or labels.get("statefulset")
        or labels.get("node")
        or labels.get("service")
        or labels.get("job")
        or labels.get("instance")
        or ""
    )
    return f"{ns}/{name}" if ns and name else (name or ns or "-")


def _status_text(inc: Incident, lang: Lang) -> str:
    if inc.resolved:
        return tr(lang, "✅ 已恢复", "✅ resolved")
    if inc.silenced_until and inc.silenced_until > time.time():
        return tr(lang, "🔕 静默中", "🔕 silenced")
    return tr(lang, "🔥 告警中", "🔥 firing")


def mention_of(inc: Incident, lang: Lang) -> Mention | None:
    """The severity policy's notification, as a typed mention each platform renders for real: P0 @all plus the
    platform's urgent escalation to the on-call people (when first sent), P1 @ the on-call people, else none."""
    if inc.resolved:
        return None
    people = tuple(oncall_entry(entry) for entry in inc.oncall[:MAX_MENTIONED])
    if inc.priority is Priority.P0:
        text = tr(lang, "P0 紧急告警，请立即处理", "P0 urgent alert: act now")
        return Mention(people=people, everyone=True, urgent=True, text=text)
    if inc.priority is Priority.P1 and people:
        return Mention(people=people, text=tr(lang, "请值班同学处理", "on call, please take a look"))
    return None


def alert_title(inc: Incident, lang: Lang) -> str:
    firing = len(inc.firing)
    if inc.resolved:
        return tr(lang, "[{p}] 已恢复：{t}", "[{p}] Resolved: {t}", p=inc.priority.value, t=inc.title)
    return tr(
        lang,
        "[{p}] 告警：{t}（{n} 条告警中）",
        "[{p}] Alert: {t} ({n} firing)",
        p=inc.priority.value,
        t=inc.title,
        n=firing,
    )


def _alert_rows(alerts: Sequence[AlertState], lang: Lang) -> tuple[tuple[tuple[str, ...], ...], str | None]:
    ordered = sorted(alerts, key=lambda a: (a.status.value != "firing", -(a.starts_at or 0)))
    rows = tuple(
        (
            a.name,
            target_of(a.labels),
            tr(lang, "告警中", "firing") if a.status.value == "firing" else tr(lang, "已恢复", "resolved"),
            hhmm(a.starts_at, lang),
        )
        for a in ordered[:MAX_ALERT_ROWS]
    )
    cut = None
    if len(ordered) > MAX_ALERT_ROWS:
        cut = tr(
            lang,
            "仅显示 {n}/{total} 条（已截断）",
            "showing {n} of {total} (truncated)",
            n=MAX_ALERT_ROWS,
            total=len(ordered),
        )
    return rows, cut


# timeline entries whose detail is a chat key (kept whole in the store and the audit): the card names the platform
_CHAT_KINDS = frozenset({"notified", "escalated", "escalation_failed"})
_PLATFORM_TEXT = {
    "feishu": ("飞书群", "Feishu chat"),
    "dingtalk": ("钉钉群", "DingTalk chat"),
    "console": ("控制台", "console"),
}


def _chat_label(chat_key: str, lang: Lang) -> str:
    """`feishu:oc_…` is an internal id: the card says where (飞书群), not which id."""
    names = _PLATFORM_TEXT.get(chat_key.partition(":")[0])
    return tr(lang, *names) if names else chat_key


def timeline_lines(inc: Incident, lang: Lang, limit: int = MAX_TIMELINE_ROWS) -> str:
    entries = inc.timeline[-limit:]
    lines = []
    for e in entries:
        zh, en = _KIND_TEXT.get(e.kind, (e.kind, e.kind))
        who = f" · {e.who}" if e.who else ""
        shown = _chat_label(e.detail, lang) if e.kind in _CHAT_KINDS else e.detail
        detail = f" · {shown}" if shown and e.kind not in ("fired", "alert_resolved") else ""
        lines.append(f"- {hhmm(e.at, lang)} {tr(lang, zh, en)}{who}{detail}")
    hidden = len(inc.timeline) - len(entries) + inc.timeline_dropped
    if hidden > 0:
        lines.insert(0, tr(lang, "…（更早的 {n} 条已省略）", "… ({n} earlier entries truncated)", n=hidden))
    return "\n".join(lines)


def alert_card(inc: Incident, *, runbooks: Sequence[tuple[str, str]] = ()) -> Card:
    """The one card of an alert group. `runbooks`: (id, label) pairs matching it, offered as buttons."""
    lang = inc.lang
    blocks: list[Markdown | Fields | Table | Note | Mention] = []
    mention = mention_of(inc, lang)
    if mention:
        blocks.append(mention)
    if inc.summary:
        blocks.append(Markdown(inc.summary[:500]))
    claimed = inc.claimed_name or inc.claimed_by
    blocks.append(
        Fields(
            (
                (tr(lang, "状态", "Status"), _status_text(inc, lang)),
                (tr(lang, "优先级", "Priority"), inc.priority.value),
                (tr(lang, "开始", "Started"), hhmm(inc.opened_at, lang)),
                (tr(lang, "认领人", "Claimed by"), claimed or tr(lang, "无人认领", "nobody yet")),
                (tr(lang, "事件编号", "Incident"), inc.id),
            )
        )
    )
    rows, cut = _alert_rows(list(inc.alerts.values()), lang)
    blocks.append(
        Table(
            (
                tr(lang, "告警", "Alert"),
                tr(lang, "对象", "Object"),
                tr(lang, "状态", "Status"),
                tr(lang, "开始", "Since"),
            ),
            rows,
            truncated=cut,
        )
    )
    if inc.dropped_alerts:
        blocks.append(
            Note(
                tr(
                    lang,
                    "另有 {n} 条告警未逐条记录（已截断）",
                    "{n} more alerts not listed (truncated)",
                    n=inc.dropped_alerts,
                ),
                Tone.WARNING,
            )
        )
    if inc.resolved:
        blocks.append(Markdown(report_text(inc, lang)))
    # the report keeps the whole story (bounded); a live card only the latest steps
    limit = MAX_REPORT_TIMELINE_ROWS if inc.resolved else MAX_TIMELINE_ROWS
    blocks.append(Markdown(tr(lang, "**时间线**", "**Timeline**") + "\n" + timeline_lines(inc, lang, limit)))
    return Card(
        title=alert_title(inc, lang),
        blocks=tuple(blocks),
        buttons=() if inc.resolved else alert_buttons(inc, runbooks),
        tone=Tone.SUCCESS
        if inc.resolved
        else (Tone.DANGER if inc.priority in (Priority.P0, Priority.P1) else Tone.WARNING),
        footer=f"{inc.id} · {inc.route}",
        meta={"lang": lang.value, "incident": inc.id},
    )


def alert_buttons(inc: Incident, runbooks: Sequence[tuple[str, str]] = ()) -> tuple[Button, ...]:
    lang = inc.lang
    args = {"i": inc.id}
    out: list[Button] = []
    if not inc.claimed_by:
        out.append(Button(tr(lang, "认领", "Claim"), Action(OP_CLAIM, args), ButtonStyle.PRIMARY))
    out.append(Button(tr(lang, "诊断", "Diagnose"), Action(OP_DIAGNOSE, args)))
    if inc.silence_id:
        out.append(Button(tr(lang, "取消静默", "Unsilence"), Action(OP_UNSILENCE, args)))
    else:
        out.append(Button(tr(lang, "静默 1 小时", "Silence 1h"), Action(OP_SILENCE, {**args, "h": 1})))
        out.append(Button(tr(lang, "静默 4 小时", "Silence 4h"), Action(OP_SILENCE, {**args, "h": 4})))
    for rb_id, label in runbooks[:3]:
        out.append(Button(label, Action(OP_RUNBOOK, {**args, "r": rb_id}), ButtonStyle.DANGER))
    return tuple(out)


def report_text(inc: Incident, lang: Lang) -> str:
    actions = "；".join(inc.actions) if lang is Lang.ZH else "; ".join(inc.actions)
    lines = [
        tr(lang, "**事件报告**", "**Incident report**"),
        tr(lang, "- 响应时长（MTTA）：{v}", "- Time to acknowledge (MTTA): {v}", v=duration(inc.mtta, lang)),
        tr(lang, "- 恢复时长（MTTR）：{v}", "- Time to resolve (MTTR): {v}", v=duration(inc.mttr, lang)),
        tr(lang, "- 原因：{v}", "- Cause: {v}", v=inc.cause or tr(lang, "未确定", "not determined")),
        tr(lang, "- 处理：{v}", "- Actions: {v}", v=actions or tr(lang, "无", "none")),
        tr(
            lang,
            "- 处理人：{v}",
            "- Who: {v}",
            v=inc.claimed_name or inc.claimed_by or tr(lang, "无人认领", "nobody claimed it"),
        ),
    ]
    return "\n".join(lines)


def storm_card(chat_groups: dict[str, dict[str, str]], lang: Lang, window_start: float) -> Card:
    """Every group that arrived after the chat's card budget ran out, in one card updated in place."""
    items = sorted(chat_groups.items(), key=lambda kv: (kv[1].get("s") != "firing", kv[1].get("p", "P9"), kv[0]))
    firing = sum(1 for _, g in items if g.get("s") == "firing")
    rows = tuple(
        (
            g.get("p", ""),
            g.get("t", "")[:80],
            tr(lang, "告警中", "firing") if g.get("s") == "firing" else tr(lang, "已恢复", "resolved"),
            inc_id,
        )
        for inc_id, g in items[:MAX_STORM_ROWS]
    )
    cut = None
    if len(items) > MAX_STORM_ROWS:
        cut = tr(
            lang,
            "仅显示 {n}/{total} 组（已截断）",
            "showing {n} of {total} groups (truncated)",
            n=MAX_STORM_ROWS,
            total=len(items),
        )
    return Card(
        title=tr(
            lang,
            "告警风暴：{g} 组告警（{f} 组告警中）",
            "Alert storm: {g} groups ({f} firing)",
            g=len(items),
            f=firing,
        ),
        blocks=(
            Note(
                tr(
                    lang,
                    "告警过多，为避免刷屏，这些告警组合并在此卡片中更新。用 /incidents 查看全部。",
                    "Too many alerts: to avoid a flood these groups are summarised in this card, updated in place. "
                    "/incidents lists them all.",
                ),
                Tone.WARNING,
            ),
            Table(
                (
                    tr(lang, "级别", "Prio"),
                    tr(lang, "告警组", "Group"),
                    tr(lang, "状态", "Status"),
                    tr(lang, "事件", "Incident"),
                ),
                rows,
                truncated=cut,
            ),
        ),
        tone=Tone.DANGER if firing else Tone.SUCCESS,
        footer=tr(lang, "自 {t} 起", "since {t}", t=hhmm(window_start, lang)),
        meta={"lang": lang.value},
    )


def incidents_card(incidents: Sequence[Incident], lang: Lang, total_hint: int | None = None) -> Card:
    if not incidents:
        return Card(
            title=tr(lang, "事件", "Incidents"), blocks=(Markdown(tr(lang, "最近没有事件。", "No recent incidents.")),)
        )
    open_ = [i for i in incidents if not i.resolved]
    rows = tuple(
        (
            i.id,
            i.priority.value,
            i.title[:60],
            _status_text(i, lang),
            i.claimed_name or i.claimed_by or "-",
            duration((i.resolved_at or time.time()) - i.opened_at, lang),
        )
        for i in sorted(incidents, key=lambda x: (x.resolved, -x.opened_at))
    )
    return Card(
        title=tr(lang, "事件：{o} 个进行中，共 {n} 个", "Incidents: {o} open of {n}", o=len(open_), n=len(incidents)),
        blocks=(
            Table(
                (
                    tr(lang, "编号", "Id"),
                    tr(lang, "级别", "Prio"),
                    tr(lang, "告警", "Alert"),
                    tr(lang, "状态", "Status"),
                    tr(lang, "认领人", "Claimed by"),
                    tr(lang, "持续", "Duration"),
                ),
                rows,
                truncated=None
                if total_hint is None or total_hint <= len(rows)
                else tr(lang, "仅显示最近 {n} 个（已截断）", "showing the latest {n} (truncated)", n=len(rows)),
            ),
        ),
        meta={"lang": lang.value},
    )
