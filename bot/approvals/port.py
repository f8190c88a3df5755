"""The seam between the conversation engine and the safety layer (policy + approvals + audit).

The engine asks the gate before every read, hands it every mutating call, and forwards it the button actions it
owns. The real implementation lives in `bot.approvals`; `ReadOnlyGate` is the safe fallback (reads allowed,
every mutation refused) used until policy files are loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.actions import Action
from bot.core.events import Conversation, Sender
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.render.model import Card, Markdown, Tone
from bot.tooling.types import ToolCall, ToolInfo

_KIND_ARGS = ("kind", "kinds", "resource", "resources", "resource_type", "resourceType", "type", "gvk", "gvr")
# Free-form arguments of kubectl-like external tools (`command: "get secret db -o yaml"`).
_COMMAND_ARGS = ("command", "cmd", "args", "arguments", "query", "kubectl")
_SECRET_WORDS = frozenset({"secret", "secrets"})
_WORD_RE = re.compile(r"[a-z0-9]+")


def _words(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_WORD_RE.findall(value.lower()))
    if isinstance(value, list | tuple):
        return set().union(*(_words(v) for v in value)) if value else set()
    return set()


def reads_secrets(resource: str, call: ToolCall) -> bool:
    """Secrets are never read through the bot: by our tools' resource, or by a generic (MCP) tool's kind in any
    spelling (`Secret`, `secrets`, `v1/Secret`, `Secret.v1`, `["Secret"]`), or a kubectl-like command naming them."""
    if resource.split("/")[0].lower() in _SECRET_WORDS:
        return True
    return any(_words(call.args.get(k)) & _SECRET_WORDS for k in (*_KIND_ARGS, *_COMMAND_ARGS))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, where."""

    conversation: Conversation
    sender: Sender

    @property
    def subject(self) -> str:
        return self.sender.subject(self.conversation.platform)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str = ""  # user-facing, in the caller's language, when not allowed
    rule: str = ""  # which policy rule decided (for audit / explain)


class Gate(Protocol):
    """Implemented by `bot.approvals`. `action_ops` are the button ops the engine forwards to `on_action`."""

    action_ops: frozenset[str]

    async def check_read(self, caller: Caller, call: ToolCall, tool: ToolInfo, lang: Lang) -> Verdict: ...

    async def propose(self, caller: Caller, call: ToolCall, tool: ToolInfo, responder: Responder, lang: Lang) -> None:
        """A fully specified mutating call: refuse, or post a confirmation card (dry-run preview)."""

    async def on_action(
        self, caller: Caller, action: Action, responder: Responder, lang: Lang, message_ref: str | None
    ) -> None:
        """Confirm / cancel / approve clicks on the cards `propose` posted."""

    async def audit_card(self, caller: Caller, n: int, lang: Lang) -> Card:
        """`/audit [n]`: the newest `n` audit entries of this chat, for callers the policy lets read audit."""


class ReadOnlyGate:
    """Reads allowed (Secrets never), mutations refused: the safe default without policy files."""

    action_ops: frozenset[str] = frozenset()

    async def check_read(self, caller: Caller, call: ToolCall, tool: ToolInfo, lang: Lang) -> Verdict:
        if reads_secrets(tool.resource, call):
            return Verdict(
                False, tr(lang, "不允许读取 Secret。", "Reading Secrets is not allowed."), "builtin:no-secrets"
            )
        return Verdict(True, rule="builtin:read-only")

    async def propose(self, caller: Caller, call: ToolCall, tool: ToolInfo, responder: Responder, lang: Lang) -> None:
        await responder.send(
            Card(
                title=tr(lang, "只读模式", "Read-only mode"),
                tone=Tone.WARNING,
                blocks=(
                    Markdown(
                        tr(
                            lang,
                            "`{tool}` 会修改集群，但当前没有加载任何授权策略，所以我不会执行它。",
                            "`{tool}` changes the cluster, and no permission policy is loaded, so I won't run it.",
                            tool=tool.name,
                        )
                    ),
                ),
            )
        )

    async def on_action(
        self, caller: Caller, action: Action, responder: Responder, lang: Lang, message_ref: str | None
    ) -> None:
        await responder.toast(tr(lang, "这个操作已失效。", "This action is no longer valid."))

    async def audit_card(self, caller: Caller, n: int, lang: Lang) -> Card:
        return Card(
            title=tr(lang, "审计记录", "Audit log"),
            tone=Tone.WARNING,
            blocks=(
                Markdown(
                    tr(
                        lang,
                        "当前没有加载授权策略，所以没有审计记录可看。",
                        "No permission policy is loaded, so there is no audit log to show.",
                    )
                ),
            ),
        )
