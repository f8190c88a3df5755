"""Pure helpers of the engine: the cards for a read that cannot be answered as asked, titles, and small
facts drawn from results."""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.conversation import nextsteps
from bot.conversation.slots import meaning
from bot.core.actions import PayloadError
from bot.core.i18n import Lang, tr
from bot.render.model import Button, ButtonStyle, Card, Markdown, Tone
from bot.render.views import error_blocks
from bot.tooling.types import ToolInfo, ToolOutcome

log = logging.getLogger(__name__)


def focus_pod(tool: str, data: dict[str, Any] | None) -> tuple[str, str | None] | None:
    """The one pod a result is about (a health check's only failing pod, a listing of one), if there is one."""
    if not isinstance(data, dict):
        return None
    if tool == "workload_health":
        pods = [p for p in data.get("pods", []) if isinstance(p, dict)]
        bad = [p for p in pods if not p.get("healthy", True)]
        one = bad if len(bad) == 1 else pods if len(pods) == 1 else []
    elif tool == "list_pods":
        items = [p for p in data.get("items", []) if isinstance(p, dict)]
        one = items if len(items) == 1 else []
    else:
        return None
    if not one or not one[0].get("name"):
        return None
    return str(one[0]["name"]), (one[0].get("namespace") or data.get("namespace"))


def workload_of(pod: str | None) -> str | None:
    """The Deployment behind a pod name (`payment-api-c2ws8rl9pf-9t44t` -> `payment-api`), when it has that shape."""
    m = re.fullmatch(r"(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}", pod or "")
    return m.group(1) if m else None


def int_bounds(spec: dict[str, Any]) -> tuple[int | None, int | None]:
    """An integer parameter's minimum/maximum from its JSON schema (also inside `anyOf` for optional ones)."""
    for s in (spec, *[a for a in spec.get("anyOf", ()) if isinstance(a, dict) and a.get("type") == "integer"]):
        lo, hi = s.get("minimum"), s.get("maximum")
        if isinstance(lo, int) or isinstance(hi, int):
            return (lo if isinstance(lo, int) else None), (hi if isinstance(hi, int) else None)
    return None, None


def what_label(lang: Lang, what: str) -> str:
    names = {
        "namespace": ("命名空间", "namespace"),
        "pod": ("Pod", "pod"),
        "deployment": ("Deployment", "deployment"),
        "statefulset": ("StatefulSet", "statefulset"),
        "container": ("容器", "container"),
        "node": ("节点", "node"),
        "cluster": ("集群", "cluster"),
    }
    zh, en = names.get(what, (what, what))
    return tr(lang, zh, en)


def request_title(lang: Lang, info: ToolInfo, args: dict[str, Any]) -> str:
    target = "/".join(
        str(args[k]) for k in ("namespace", "pod", "deployment", "node", "name", "object_name") if args.get(k)
    )
    base = info.title(lang.value)
    return f"{base} · {target}" if target else base


def no_previous_card(lang: Lang, args: dict[str, Any]) -> Card:
    """Previous logs of a container that never restarted: not an error, just nothing before the current one."""
    ref = {k: args[k] for k in ("cluster", "namespace", "pod", "container") if args.get(k)}
    pod = str(args.get("pod", ""))
    return Card(
        title=tr(lang, "没有上一次的日志", "No previous logs"),
        blocks=(
            Markdown(
                tr(
                    lang,
                    "Pod `{p}` 的容器没有重启过，所以没有上一个实例的日志。可以看当前日志或事件。",
                    "The container of pod `{p}` has not restarted, so there is no previous instance to read. "
                    "See the current logs or the events instead.",
                    p=pod,
                )
            ),
        ),
        buttons=(
            Button(tr(lang, "当前日志", "Current logs"), nextsteps.run("pod_logs", ref), ButtonStyle.PRIMARY),
            Button(
                tr(lang, "查看事件", "Events"),
                nextsteps.run(
                    "list_events",
                    {
                        k: v
                        for k, v in {**ref, "object_name": pod}.items()
                        if k in ("cluster", "namespace", "object_name")
                    },
                ),
            ),
            Button(
                tr(lang, "描述 Pod", "Describe pod"),
                nextsteps.run("describe_pod", {k: v for k, v in ref.items() if k != "container"}),
            ),
        ),
        tone=Tone.INFO,
    )


def not_started_card(lang: Lang, args: dict[str, Any], reason: str) -> Card:
    """Logs of a container that never ran (ImagePullBackOff, Pending ...): say why there are none, point to events."""
    pod, ns = str(args.get("pod", "")), str(args.get("namespace", ""))
    base = {"cluster": args["cluster"]} if args.get("cluster") else {}
    return Card(
        title=tr(lang, "还没有日志", "No logs yet"),
        blocks=(
            Markdown(
                tr(
                    lang,
                    "Pod `{p}` 的容器还没有启动（{r}），所以还没有日志。启动失败的原因通常在事件里。",
                    "The container of pod `{p}` has not started ({r}), so there are no logs yet. "
                    "Why it does not start is usually in the events.",
                    p=pod,
                    r=reason,
                )
            ),
        ),
        buttons=(
            Button(
                tr(lang, "查看事件", "Events"),
                nextsteps.run("list_events", {**base, "namespace": ns, "object_name": pod}),
                ButtonStyle.PRIMARY,
            ),
            Button(
                tr(lang, "描述 Pod", "Describe pod"),
                nextsteps.run("describe_pod", {**base, "namespace": ns, "pod": pod}),
            ),
        ),
        tone=Tone.WARNING,
    )


def error_card(lang: Lang, info: ToolInfo, out: ToolOutcome) -> Card:
    return Card(
        title=tr(lang, "{t}：失败", "{t}: failed", t=info.title(lang.value)),
        blocks=tuple(error_blocks(lang, out.error or out.text, out.error_code)),
        tone=Tone.DANGER,
    )


def payload_message(lang: Lang, reason: PayloadError) -> str:
    return {
        PayloadError.EXPIRED: tr(lang, "这个按钮已过期，请重新发起。", "This button has expired; please start again."),
        PayloadError.FOREIGN: tr(lang, "这个按钮不属于这个会话。", "This button belongs to another chat."),
        PayloadError.FORGED: tr(
            lang, "按钮数据无效（签名不符），已忽略。", "Invalid button data (bad signature); ignored."
        ),
        PayloadError.MALFORMED: tr(lang, "按钮数据无效，已忽略。", "Invalid button data; ignored."),
        PayloadError.TOO_LONG: tr(lang, "按钮数据无效，已忽略。", "Invalid button data; ignored."),
    }[reason]


def single_containers(data: Any, limit: int = 300) -> dict[str, str]:
    """pod -> container, for the pods of a listing that have exactly one container."""
    out: dict[str, str] = {}
    items = data.get("items", []) if isinstance(data, dict) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        containers = [c.get("name") for c in item.get("containers") or [] if isinstance(c, dict)]
        if len(containers) == 1 and isinstance(containers[0], str) and isinstance(item.get("name"), str):
            out[item["name"]] = containers[0]
            if len(out) >= limit:
                break
    return out


def chosen_card(lang: Lang, info: ToolInfo | None, slot: str, value: str) -> Card:
    """What a question card becomes once an option is chosen: the choice, the buttons gone (the next card asks
    the next thing or answers)."""
    what = meaning(info, slot) if info is not None else None
    label = what_label(lang, what) if what else slot
    request = info.title(lang.value) if info is not None else ""
    return Card(
        title=tr(lang, "已选择：{v}", "Chosen: {v}", v=value),
        blocks=(Markdown(tr(lang, "{w}：`{v}`", "{w}: `{v}`", w=label, v=value)),),
        tone=Tone.SUCCESS,
        footer=request or None,
        meta={"lang": lang.value},
    )
