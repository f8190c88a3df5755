"""A change whose server-side dry run changes nothing: answered "nothing to change", with no approval to click.

Only when the dry run PROVES it: our own tools' `ChangePreview` (tools/k8s/models.py) of an action that is a pure
"set X to V" (scale, resources, cordon), whose dry-run `after` equals `before` key for key. A restart, a rollback or
a pod deletion always changes something (new pods, a new revision), so they are never "no change"; a preview in
any other shape (an external tool's, a truncated one) is shown for approval as usual.
"""

from __future__ import annotations

from typing import Any

from bot.approvals.cards import VALUE_LIMIT, where
from bot.core.i18n import Lang, tr
from bot.policy import CallFacts
from bot.render.model import TRUNCATED_EN, TRUNCATED_ZH, Card, Markdown, Note, Tone, bound_text
from tools.redact import mask_text

SETS_A_VALUE = frozenset({"scale", "set_resources", "cordon", "uncordon"})
MAX_FIELDS = 8  # a resources preview has at most requests/limits x cpu/memory/...: more is cut, with a marker


def unchanged(preview: dict[str, Any] | None) -> dict[str, str] | None:
    """The fields that already have the asked-for values when the dry run shows no change at all, else None."""
    if not preview or preview.get("dry_run") is not True or preview.get("action") not in SETS_A_VALUE:
        return None
    before, after = preview.get("before"), preview.get("after")
    if not isinstance(before, dict) or not isinstance(after, dict) or not after or before != after:
        return None
    return {str(k): str(v) for k, v in after.items()}


def what(preview: dict[str, Any]) -> str:
    kind, ns, name = preview.get("kind") or "", preview.get("namespace"), preview.get("name") or "-"
    return f"{str(kind).lower()} {ns}/{name}".strip() if ns else f"{str(kind).lower()} {name}".strip()


def _values(lang: Lang | str, same: dict[str, str]) -> str:
    items = [f"{k}={v}" for k, v in sorted(same.items())]
    text = ", ".join(items[:MAX_FIELDS]) + (" …" if len(items) > MAX_FIELDS else "")
    marker = TRUNCATED_ZH if str(lang) == Lang.ZH.value else TRUNCATED_EN
    return bound_text(mask_text(text), VALUE_LIMIT, marker)[0]


def audit_result(preview: dict[str, Any], same: dict[str, str]) -> str:
    return f"no change (dry run): {what(preview)} already has {_values(Lang.EN, same)}; no approval created"


def no_change_card(lang: Lang | str, f: CallFacts, preview: dict[str, Any], same: dict[str, str]) -> Card:
    marker = TRUNCATED_ZH if str(lang) == Lang.ZH.value else TRUNCATED_EN
    obj, values = bound_text(mask_text(what(preview)), VALUE_LIMIT, marker)[0], _values(lang, same)
    return Card(
        title=tr(lang, "无需改动", "Nothing to change"),
        tone=Tone.SUCCESS,
        blocks=(
            Markdown(
                tr(
                    lang,
                    "无需改动：`{o}` 已经是 `{v}`（{w}）。",
                    "Nothing to change: `{o}` is already `{v}` ({w}).",
                    o=obj,
                    v=values,
                    w=where(lang, f),
                )
            ),
            Note(
                tr(
                    lang,
                    "集群预演（dry run）显示没有任何差异，所以没有创建审批，集群没有任何改动。",
                    "The cluster's dry run shows no difference, so no approval was created and nothing was changed.",
                )
            ),
        ),
    )
