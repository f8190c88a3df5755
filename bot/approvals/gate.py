"""The policy gate: decides reads, turns mutations into dry-run previews and approval records, and runs a
stored call exactly once when the right people click.

Safety properties (each one tested in tests/approvals):
- nothing mutates from `propose`: the requester (or approvers) must click; the LLM never clicks;
- the clicker is checked against policy at click time; the requester never approves their own change;
- what runs is the stored call, verified against its hash, never a re-parse of text or button args;
- every state move is a compare-and-set, so double clicks, concurrent approvers, redelivered callbacks and
  racing replicas run the call at most once; late clicks get a toast and change nothing.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.approvals import cards, no_change
from bot.approvals.audit import AuditEntry, AuditLog
from bot.approvals.execution import ChangeRunner, Settled, settled_card
from bot.approvals.port import Caller, Verdict, reads_secrets
from bot.approvals.record import (
    APPROVED,
    CANCELLED,
    EXECUTED,
    EXECUTING,
    EXPIRED,
    FAILED,
    ID_RE,
    IN_FLIGHT,
    PENDING,
    UNKNOWN,
    ApprovalRecord,
    TamperedRecord,
    pending_status,
)
from bot.approvals.storage import RecordStore
from bot.core.actions import Action, ActionCodec
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.policy import (
    CallFacts,
    Decision,
    Effect,
    Policy,
    decide,
    decide_approval,
    impersonation_for,
    normalise,
)
from bot.render.model import Card
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome

log = logging.getLogger(__name__)

FINAL_TTL_SECONDS = 24 * 3600  # finished records stay a day so late clicks get a clear answer
AUDIT_MAX = 50
CAS_ATTEMPTS = 8  # approvals racing on one record: each loser re-reads and tries again
MAX_PREVIEW_CHARS = 16_000
DEFAULT_CLUSTER_TTL_SECONDS = 30.0  # how long the name of the tools' default context is trusted


class ToolRunner(Protocol):
    """What the gate needs of `bot.tooling.gateway.ToolGateway`."""

    async def call(
        self, call: ToolCall, *, impersonate_user: str | None = None, impersonate_groups: Sequence[str] = ()
    ) -> ToolOutcome: ...


@dataclass(frozen=True, slots=True)
class _Clicked:
    rec: ApprovalRecord
    key: str


def _request_text(call: ToolCall) -> str:
    args = ", ".join(f"{k}={v}" for k, v in sorted(call.args.items()) if k != "dry_run")
    return f"{call.tool}({args})"


class PolicyGate:
    action_ops: frozenset[str] = frozenset({cards.CONFIRM, cards.CANCEL})

    def __init__(
        self,
        *,
        policy: Policy,
        store: RecordStore,
        gateway: ToolRunner,
        audit: AuditLog,
        codec: ActionCodec | None = None,
        default_cluster: str = "default",
        approval_ttl_seconds: int = 15 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self._store = store
        self._gateway = gateway
        self.audit = audit
        self._codec = codec  # button payloads are verified by the dispatcher; kept for the card renderers
        self._cluster = default_cluster
        self._ttl = approval_ttl_seconds
        self._clock = clock
        self._resolved: tuple[str, float] | None = None  # (default cluster's real name, when learnt)
        self._changes = ChangeRunner(store=store, run=self._run, reader=gateway, clock=clock)

    # ------------------------------------------------------------------ facts
    def facts(self, tool: ToolInfo, call: ToolCall, *, default_cluster: str | None = None) -> CallFacts:
        args = call.args
        # kubernetes-mcp-server (multi-cluster) names the kubeconfig context `context`; ours say `cluster`.
        cluster = args.get("cluster") or args.get("context") or default_cluster or self._cluster
        namespace = args.get("namespace") or ""
        return normalise(
            CallFacts(
                tool=tool.name,
                verb=tool.verb,
                resource=tool.resource,
                cluster=str(cluster),
                namespace=str(namespace) if tool.resource != "nodes" else "",
                risk=tool.risk,
                mutates=tool.mutates,
            )
        )

    async def _default_cluster(self) -> str:
        """The context a call without `cluster` really runs on: the tools' default (configured, else the
        kubeconfig's current context), not a name of our own, so cluster rules judge the cluster that changes."""
        now = time.monotonic()
        if self._resolved is not None and now - self._resolved[1] < DEFAULT_CLUSTER_TTL_SECONDS:
            return self._resolved[0]
        name = self._cluster
        try:
            out = await self._gateway.call(ToolCall("list_clusters", {}))
        except Exception:  # noqa: BLE001 - no catalogue behind this gateway: keep the configured name
            out = ToolOutcome(ok=False)
        items = (out.data or {}).get("items") if out.ok else None
        if isinstance(items, list):
            current = [str(c.get("name")) for c in items if isinstance(c, dict) and c.get("current") and c.get("name")]
            if current:
                name = current[0]
                self._resolved = (name, now)
        return name

    async def _facts(self, tool: ToolInfo, call: ToolCall) -> CallFacts:
        explicit = call.args.get("cluster") or call.args.get("context")
        return self.facts(tool, call, default_cluster=None if explicit else await self._default_cluster())

    def _tool_now(self, name: str) -> ToolInfo | None | bool:
        """The tool as the gateway lists it now (None: gone); True when this gateway cannot say."""
        info = getattr(self._gateway, "info", None)
        if not callable(info):
            return True
        try:
            found = info(name)
        except Exception:  # noqa: BLE001 - a gateway that raises on an unknown name means "gone"
            return None
        return found if isinstance(found, ToolInfo) else None

    def _still_same(self, rec: ApprovalRecord) -> bool:
        """The stored call must still name the same tool with the same facts it was judged on: a tool removed,
        renamed onto another server, or re-listed as a different verb/resource/risk voids the approval."""
        now = self._tool_now(rec.call.tool)
        if now is True:
            return True
        if now is None or now is False:
            return False
        if not now.mutates:
            return False  # a "read" now: the record was made for a change, never run it as something else
        fresh = self.facts(now, rec.call, default_cluster=rec.facts.cluster)
        return fresh == rec.facts

    async def _audit(self, caller: Caller, event: str, request: str, **kw: str) -> None:
        try:
            await self.audit.record(
                AuditEntry(
                    event=event,
                    platform=caller.conversation.platform.value,
                    chat=caller.conversation.chat_key,
                    user=caller.subject,
                    request=request,
                    **kw,
                )
            )
        except Exception:
            log.exception("audit write failed")

    # ------------------------------------------------------------------ reads
    async def check_read(self, caller: Caller, call: ToolCall, tool: ToolInfo, lang: Lang) -> Verdict:
        f = self.facts(tool, call)  # resource and mutates do not depend on the cluster: enough for the refusals
        request = _request_text(call)
        if reads_secrets(f.resource, call):
            await self._audit(caller, "read", request, decision="deny", rule="builtin:no-secrets")
            return Verdict(
                False, tr(lang, "不允许读取 Secret。", "Reading Secrets is not allowed."), "builtin:no-secrets"
            )
        if f.mutates:
            return Verdict(
                False,
                tr(
                    lang,
                    "这个工具会修改集群，需要确认后才能执行。",
                    "This tool changes the cluster; it needs a confirmation.",
                ),
                "builtin:mutation-needs-propose",
            )
        f = await self._facts(tool, call)  # the cluster the read really runs on, for cluster-scoped rules
        d = decide(self.policy, caller.subject, caller.conversation.chat_key, f)
        await self._audit(caller, "read", request, decision=d.effect.value, rule=d.rule)
        if d.effect is Effect.ALLOW:
            return Verdict(True, rule=d.rule)
        return Verdict(False, cards.refusal_text(lang, f, d), d.rule or d.why.value)

    # ------------------------------------------------------------------ propose
    async def propose(self, caller: Caller, call: ToolCall, tool: ToolInfo, responder: Responder, lang: Lang) -> None:
        # The user (or LLM) never chooses dry_run: the preview forces it on, the stored call forces it off.
        user_args = {k: v for k, v in call.args.items() if k != "dry_run"}
        if "cluster" in tool.properties and not user_args.get("cluster"):
            # Pin the cluster the change is judged on into the stored (hashed) call: a kubeconfig whose current
            # context changes between the click and the run cannot move the change to another cluster.
            user_args["cluster"] = await self._default_cluster()
        has_dry_run = "dry_run" in tool.properties
        run_call = ToolCall(call.tool, {**user_args, "dry_run": False} if has_dry_run else user_args)
        f = await self._facts(tool, run_call)
        request = _request_text(run_call)
        d = decide(self.policy, caller.subject, caller.conversation.chat_key, f)
        if d.effect is Effect.DENY:
            await self._audit(caller, "refuse", request, decision="deny", rule=d.rule, result=d.reason)
            await responder.send(cards.refusal_card(lang, f, d))
            return
        preview: dict[str, Any] | None = None
        if has_dry_run:
            outcome = await self._run(ToolCall(call.tool, {**user_args, "dry_run": True}), caller.subject)
            if not outcome.ok:
                await self._audit(
                    caller,
                    "propose",
                    request,
                    decision=d.effect.value,
                    rule=d.rule,
                    call_hash=run_call.digest(),
                    result=f"dry run failed: {outcome.error_code}: {outcome.error}",
                )
                await responder.send(cards.dry_run_error_card(lang, f, outcome.error_code, outcome.error or ""))
                return
            preview = outcome.data
            same = no_change.unchanged(preview)
            if preview is not None and same is not None:  # e.g. 512Mi -> 512Mi: nothing to approve (no_change.py)
                result = no_change.audit_result(preview, same)
                digest = run_call.digest()
                await self._audit(
                    caller, "propose", request, decision=d.effect.value, rule=d.rule, call_hash=digest, result=result
                )
                await responder.send(no_change.no_change_card(lang, f, preview, same))
                return
            if preview is not None and len(json.dumps(preview, default=str)) > MAX_PREVIEW_CHARS:
                # an external tool's oversized preview: keep the record small, say so on the card
                preview = {"summary": "(preview too large to show; truncated)"}
        rec = self._new_record(caller, run_call, f, d, lang, preview)
        key = self._store.keys.approval(rec.id)
        if not await self._store.create_record(key, rec.fields(), ttl=self._ttl):
            raise RuntimeError("approval id collision")  # 128 random bits: not expected to happen
        ref = await responder.send(cards.confirm_card(lang, rec, max(1, self._ttl // 60), policy=self.policy))
        if ref:
            await self._store.update_record(key, {"card_ref": ref})
        await self._audit(
            caller,
            "propose",
            request,
            decision=d.effect.value,
            rule=d.rule,
            call_hash=rec.digest,
            approval_id=rec.id,
            result=f"needs {rec.needed} approval(s)" if rec.needed else "awaiting requester's confirmation",
        )

    def _new_record(
        self, caller: Caller, call: ToolCall, f: CallFacts, d: Decision, lang: Lang, preview: dict[str, Any] | None
    ) -> ApprovalRecord:
        now = self._clock()
        needed = d.required_approvals if d.effect is Effect.APPROVAL else 0
        return ApprovalRecord(
            id=secrets.token_hex(16),
            status=PENDING,
            call=call,
            digest=call.digest(),
            facts=f,
            requester=caller.subject,
            requester_name=caller.sender.name,
            platform=caller.conversation.platform.value,
            chat=caller.conversation.chat_key,
            needed=needed,
            approver_roles=d.approvers,
            approvals=(),
            rule=d.rule,
            created=now,
            expires_at=now + self._ttl,
            lang=lang.value,
            preview=preview,
        )

    async def _run(self, call: ToolCall, requester: str) -> ToolOutcome:
        # The change runs as the requester's mapped Kubernetes identity (if the policy maps one), so the
        # cluster's own RBAC is a second fence behind this policy. Approvers lend approval, not identity.
        imp = impersonation_for(self.policy, requester)
        try:
            if imp is None:
                return await self._gateway.call(call)
            return await self._gateway.call(call, impersonate_user=imp.user, impersonate_groups=imp.groups)
        except Exception as exc:
            log.exception("tool gateway raised for %s", call.tool)
            return ToolOutcome(ok=False, error_code="failed", error=f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ clicks
    async def on_action(
        self, caller: Caller, action: Action, responder: Responder, lang: Lang, message_ref: str | None
    ) -> None:
        clicked = await self._load(caller, action, responder, lang)
        if clicked is None:
            return
        if action.op == cards.CANCEL:
            await self._cancel(caller, clicked, responder, lang, message_ref)
        elif action.op == cards.CONFIRM:
            await self._confirm(caller, clicked, responder, lang, message_ref)
        else:
            await responder.toast(tr(lang, "这个操作已失效。", "This action is no longer valid."))

    async def _load(self, caller: Caller, action: Action, responder: Responder, lang: Lang) -> _Clicked | None:
        approval_id = action.args.get("id")
        if not isinstance(approval_id, str) or not ID_RE.match(approval_id):
            await responder.toast(tr(lang, "这个按钮无效。", "This button is not valid."))
            return None
        key = self._store.keys.approval(approval_id)
        raw = await self._store.get_record(key)
        if raw is None:
            await responder.toast(
                tr(
                    lang,
                    "这个审批已过期或不存在，没有执行任何操作。",
                    "This approval has expired or does not exist; nothing ran.",
                )
            )
            return None
        try:
            rec = ApprovalRecord.parse(raw)
        except TamperedRecord as exc:
            await self._audit(
                caller, "tamper", approval_id, decision="refused", approval_id=approval_id, result=str(exc)
            )
            await responder.toast(
                tr(
                    lang,
                    "这个审批记录校验失败，不会执行。",
                    "This approval failed its integrity check; it will not run.",
                )
            )
            return None
        if rec.chat != caller.conversation.chat_key:
            await responder.toast(tr(lang, "这个按钮不属于这个群。", "This button belongs to another chat."))
            return None
        return _Clicked(rec, key)

    async def _update(self, responder: Responder, message_ref: str | None, rec: ApprovalRecord, card: Card) -> None:
        ref = message_ref or rec.card_ref
        if ref:
            await responder.update(ref, card)
        else:
            await responder.send(card)

    def _closed_toast(self, lang: Lang, status: str) -> str:
        if status == EXECUTED:
            return tr(lang, "这个改动已经执行过了。", "This change has already been run.")
        if status in IN_FLIGHT:
            return tr(lang, "这个改动正在执行。", "This change is being run right now.")
        if status == FAILED:
            return tr(lang, "这个改动执行失败，没有生效。", "This change failed; it did not take effect.")
        if status == UNKNOWN:
            return tr(lang, "这个改动的结果未知，正在检查。", "The outcome of this change is unknown; checking.")
        if status == CANCELLED:
            return tr(lang, "这个改动已被取消。", "This change was cancelled.")
        return tr(lang, "这个审批已过期，没有执行任何操作。", "This approval has expired; nothing ran.")

    async def _expire_if_due(
        self, caller: Caller, c: _Clicked, responder: Responder, lang: Lang, message_ref: str | None
    ) -> bool:
        if self._clock() <= c.rec.expires_at:
            return False
        moved = await self._store.transition(c.key, c.rec.status, EXPIRED, ttl=FINAL_TTL_SECONDS)
        if moved:
            await self._audit(caller, "expire", _request_text(c.rec.call), call_hash=c.rec.digest, approval_id=c.rec.id)
            await self._update(responder, message_ref, c.rec, cards.closed_card(lang, c.rec, cancelled_by=None))
        await responder.toast(self._closed_toast(lang, EXPIRED))
        return True

    async def _confirm(
        self, caller: Caller, c: _Clicked, responder: Responder, lang: Lang, message_ref: str | None
    ) -> None:
        chat = caller.conversation.chat_key
        approvals: tuple[str, ...]
        for _ in range(CAS_ATTEMPTS):
            rec = c.rec
            if rec.status in IN_FLIGHT or rec.status == UNKNOWN:
                await self._settle(caller, c, responder, lang, message_ref)
                return
            if not rec.status.startswith(PENDING):
                await responder.toast(self._closed_toast(lang, rec.status))
                return
            if await self._expire_if_due(caller, c, responder, lang, message_ref):
                return
            request = _request_text(rec.call)
            if not self._still_same(rec):
                await self._audit(
                    caller, "confirm", request, decision="refused", rule="builtin:tool-changed", approval_id=rec.id
                )
                await responder.toast(
                    tr(
                        lang,
                        "这个工具已经不存在或已改变，没有执行任何操作；请重新发起。",
                        "This tool is gone or has changed since the request; nothing ran. Please ask again.",
                    )
                )
                return
            if rec.needed == 0:
                if caller.subject != rec.requester:
                    await responder.toast(
                        tr(lang, "只有发起人可以确认这个改动。", "Only the person who asked can confirm this change.")
                    )
                    return
                d = decide(self.policy, caller.subject, chat, rec.facts)
                if d.effect is not Effect.ALLOW:
                    await self._audit(
                        caller, "confirm", request, decision=d.effect.value, rule=d.rule, approval_id=rec.id
                    )
                    await responder.toast(cards.refusal_text(lang, rec.facts, d))
                    return
                new_status, approvals = APPROVED, tuple([caller.subject])
            else:
                if caller.subject == rec.requester:
                    await responder.toast(
                        tr(
                            lang,
                            "这个改动需要其他人批准，你不能批准自己的请求。",
                            "This change needs someone else's approval; you cannot approve your own request.",
                        )
                    )
                    return
                # The requester's own grant must still hold too (policy files can change between replicas).
                now = decide(self.policy, rec.requester, chat, rec.facts)
                if now.effect is Effect.DENY:
                    await responder.toast(
                        tr(
                            lang,
                            "发起人已经没有执行这个改动的权限了。",
                            "The requester is no longer allowed to make this change.",
                        )
                    )
                    return
                if now.effect is Effect.APPROVAL and now.required_approvals > rec.needed:
                    # The policy got stricter since the card was posted: the approvals it asked for are not enough.
                    await self._audit(caller, "approve", request, decision="refused", rule=now.rule, approval_id=rec.id)
                    await responder.toast(
                        tr(
                            lang,
                            "审批规则已经变更（现在需要 {n} 人批准），没有执行任何操作；请重新发起。",
                            "The approval rule changed (it now needs {n} approval(s)); nothing ran. Please ask again.",
                            n=now.required_approvals,
                        )
                    )
                    return
                # Who may approve is the rule in force now (the stored roles if no rule applies any more), and
                # every earlier approval is checked again: one whose approver lost the role no longer counts.
                roles = now.approvers if now.effect is Effect.APPROVAL else rec.approver_roles
                if caller.subject in rec.approvals:
                    await responder.toast(tr(lang, "你已经批准过了。", "You have already approved this."))
                    return
                d = decide_approval(self.policy, caller.subject, rec.requester, chat, rec.facts, roles)
                if d.effect is not Effect.ALLOW:
                    await self._audit(caller, "approve", request, decision="deny", rule=d.rule, approval_id=rec.id)
                    await responder.toast(
                        tr(
                            lang,
                            "你不能批准这个改动：需要角色 {roles}。",
                            "You cannot approve this change: it needs the role {roles}.",
                            roles=" / ".join(roles),
                        )
                    )
                    return
                still = tuple(
                    a
                    for a in rec.approvals
                    if decide_approval(self.policy, a, rec.requester, chat, rec.facts, roles).effect is Effect.ALLOW
                )
                approvals = (*still, caller.subject)
                new_status = APPROVED if len(approvals) >= rec.needed else pending_status(len(approvals))
            moved = await self._store.transition(
                c.key,
                rec.status,
                new_status,
                ttl=FINAL_TTL_SECONDS if new_status == APPROVED else max(1, await self._store.ttl(c.key)),
                fields={"approvals": json.dumps(list(approvals)), "approved_at": repr(self._clock())},
            )
            if moved is None:
                await responder.toast(self._closed_toast(lang, EXPIRED))
                return
            if not moved:
                # Someone else moved it first: re-read and decide again on the fresh state.
                fresh = await self._load(caller, Action(cards.CONFIRM, {"id": rec.id}), responder, lang)
                if fresh is None:
                    return
                c = fresh
                continue
            rec = _with(rec, status=new_status, approvals=approvals)
            await self._audit(
                caller,
                "confirm" if rec.needed == 0 else "approve",
                request,
                decision="allow",
                rule=d.rule,
                approvers=",".join(approvals),
                call_hash=rec.digest,
                approval_id=rec.id,
                result=new_status,
            )
            if new_status == APPROVED:
                await self._execute(caller, _Clicked(rec, c.key), responder, lang, message_ref)
            else:
                card = cards.confirm_card(lang, rec, max(1, self._ttl // 60), policy=self.policy)
                await self._update(responder, message_ref, rec, card)
                await responder.toast(
                    tr(
                        lang,
                        "已记录你的批准（{k}/{n}）。",
                        "Your approval is recorded ({k}/{n}).",
                        k=len(approvals),
                        n=rec.needed,
                    )
                )
            return
        await responder.toast(tr(lang, "太多人同时点击，请再试一次。", "Too many clicks at once; please try again."))

    async def _execute(
        self, caller: Caller, c: _Clicked, responder: Responder, lang: Lang, message_ref: str | None
    ) -> None:
        rec = c.rec
        # Only the click that moved the record to APPROVED gets here; the call is the stored one, re-verified.
        if rec.call.digest() != rec.digest:
            await self._store.transition(c.key, APPROVED, FAILED, ttl=FINAL_TTL_SECONDS, fields={"result": "tampered"})
            await responder.toast(tr(lang, "校验失败，不会执行。", "Integrity check failed; not run."))
            return
        ran = await self._changes.execute(rec, c.key, caller.subject)
        if ran is None:  # settled meanwhile by someone else: say what it is now
            fresh = await self._store.get_record(c.key)
            await responder.toast(self._closed_toast(lang, (fresh or {}).get("status", EXPIRED)))
            return
        settled, outcome = ran
        await self._report(caller, rec, settled, outcome, responder, lang, message_ref)

    async def _settle(
        self, caller: Caller, c: _Clicked, responder: Responder, lang: Lang, message_ref: str | None
    ) -> None:
        """A click on a change that is in flight, orphaned by a dead replica, or of unknown outcome: read the
        object back and say what is true; never run it again."""
        settled = await self._changes.settle(c.rec, c.key, caller.subject)
        if settled.status in IN_FLIGHT:
            await responder.toast(self._closed_toast(lang, EXECUTING))
            return
        await self._report(caller, c.rec, settled, None, responder, lang, message_ref, event="settle")

    async def _report(
        self,
        caller: Caller,
        rec: ApprovalRecord,
        settled: Settled,
        outcome: ToolOutcome | None,
        responder: Responder,
        lang: Lang,
        message_ref: str | None,
        *,
        event: str = "execute",
    ) -> None:
        await self._audit(
            caller,
            event,
            _request_text(rec.call),
            decision=settled.status,
            rule=rec.rule,
            approvers=",".join(rec.approvals),
            call_hash=rec.digest,
            approval_id=rec.id,
            result=settled.result + (" (verified by read-back)" if settled.verified else ""),
        )
        card = settled_card(lang, rec, settled, outcome, caller.sender.name or caller.subject)
        await self._update(responder, message_ref, rec, card)

    async def _cancel(
        self, caller: Caller, c: _Clicked, responder: Responder, lang: Lang, message_ref: str | None
    ) -> None:
        rec = c.rec
        if not rec.status.startswith(PENDING):
            await responder.toast(self._closed_toast(lang, rec.status))
            return
        if await self._expire_if_due(caller, c, responder, lang, message_ref):
            return
        chat = caller.conversation.chat_key
        may = caller.subject == rec.requester or (
            rec.needed > 0
            and decide_approval(self.policy, caller.subject, rec.requester, chat, rec.facts, rec.approver_roles).effect
            is Effect.ALLOW
        )
        if not may:
            await responder.toast(
                tr(lang, "只有发起人或审批人可以取消。", "Only the requester or an approver can cancel this.")
            )
            return
        moved = await self._store.transition(c.key, rec.status, CANCELLED, ttl=FINAL_TTL_SECONDS)
        if not moved:
            await responder.toast(tr(lang, "状态已变化，请查看卡片。", "This changed meanwhile; see the card."))
            return
        await self._audit(
            caller, "cancel", _request_text(rec.call), decision="cancelled", call_hash=rec.digest, approval_id=rec.id
        )
        who = caller.sender.name or caller.subject
        await self._update(responder, message_ref, rec, cards.closed_card(lang, rec, cancelled_by=who))

    # ------------------------------------------------------------------ audit
    async def audit_card(self, caller: Caller, n: int, lang: Lang) -> Card:
        f = CallFacts(tool="audit", verb="audit", resource="audit")
        d = decide(self.policy, caller.subject, caller.conversation.chat_key, f)
        await self._audit(caller, "audit", f"/audit {n}", decision=d.effect.value, rule=d.rule)
        if d.effect is not Effect.ALLOW:
            return cards.refusal_card(lang, f, d)
        n = max(1, min(int(n), AUDIT_MAX))
        rows = await self.audit.tail(n, chat=caller.conversation.chat_key)
        return cards.audit_table(lang, rows, n)


def _with(rec: ApprovalRecord, **changes: Any) -> ApprovalRecord:
    return replace(rec, **changes)
