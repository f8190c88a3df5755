"""The approvers on a confirmation card: named with real mentions, and the Approve button meant for them. Pure."""

from __future__ import annotations

from bot.approvals.record import ApprovalRecord
from bot.core.i18n import Lang, tr
from bot.policy.approvers import Approvers
from bot.render.model import Block, Mention, Note, Tone
from bot.render.names import display


def approve_audience(rec: ApprovalRecord, who: Approvers | None) -> tuple[str, ...]:
    """Whom the Approve button is for: the named approvers still to approve. Empty (everyone sees it; the gate
    checks the clicker) when the policy also lets people we cannot name approve, or names too many to list."""
    if not rec.needed or who is None or not who.subjects or who.open or who.more:
        return ()
    return tuple(s for s in who.subjects if s not in rec.approvals)


def approvers_block(lang: Lang | str, rec: ApprovalRecord, who: Approvers) -> Block:
    """The approvers named with real mentions (Feishu `<at>`, DingTalk at-list), or an honest line when the
    policy names nobody it could notify."""
    waiting = [s for s in who.subjects if s not in rec.approvals]
    if waiting:
        more = tr(lang, "（另有 {n} 人）", " (and {n} more)", n=who.more) if who.more else ""
        anyone = (
            tr(lang, "，或任何持有 {r} 角色的人", ", or anyone with the role {r}", r=" / ".join(rec.approver_roles))
            if who.open
            else ""
        )
        return Mention(
            people=tuple((s, display(s) if display(s) != s else s.partition(":")[2]) for s in waiting),
            text=tr(lang, "请审批{m}{a}。", "please review{m}{a}.", m=more, a=anyone),
        )
    if who.open:
        return Note(
            tr(
                lang,
                "任何持有 {r} 角色的人都可以批准。",
                "Anyone with the role {r} can approve.",
                r=" / ".join(rec.approver_roles),
            )
        )
    return Note(
        tr(
            lang,
            "策略里没有其他持有 {r} 角色的人，这个改动无法获批；请联系管理员。",
            "The policy names nobody else with the role {r}, so this change cannot be approved; ask an admin.",
            r=" / ".join(rec.approver_roles),
        ),
        Tone.WARNING,
    )
