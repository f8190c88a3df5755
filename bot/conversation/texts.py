"""The engine's own cards: welcome with quick commands, help, questions with choice buttons, plans, notices.

Pure: they build `Card`s whose buttons carry self-contained actions (tool, args so far, chosen value), so
whoever clicks continues correctly under their own identity.
"""

from __future__ import annotations

from typing import Any

from bot.conversation.flowview import describe_request
from bot.conversation.nextsteps import run
from bot.conversation.parser import SLASH_HELP
from bot.conversation.state import Flow
from bot.core.actions import Action
from bot.core.i18n import Lang, tr
from bot.render.model import Button, ButtonStyle, Card, Markdown, Note, Tone
from bot.tooling.types import ToolInfo


def quick_buttons(lang: Lang) -> tuple[Button, ...]:
    return (
        Button(tr(lang, "列出所有集群", "List clusters"), run("list_clusters", {})),
        Button(tr(lang, "查看集群资源总览", "Cluster overview"), run("cluster_overview", {}), ButtonStyle.PRIMARY),
        Button(tr(lang, "显示所有命名空间", "Show namespaces"), run("list_namespaces", {})),
        Button(tr(lang, "刷新缓存", "Refresh cache"), Action("refresh")),
    )


def welcome_card(lang: Lang) -> Card:
    return Card(
        title=tr(lang, "你好，我是 KubeDuty 值班助手", "Hi, I'm KubeDuty, your on-duty copilot"),
        blocks=(
            Markdown(
                tr(
                    lang,
                    "直接说你想看什么，例如「cart-service 的日志」「dev 里有哪些 pod」「检查一下 cart-service 的健康状况」，"
                    "或者点下面的快捷命令。发送 /help 查看全部命令。",
                    'Just say what you need, e.g. "logs of cart-service", "pods in dev", "check the health of '
                    'cart-service", or use the quick commands below. Send /help for every command.',
                )
            ),
        ),
        buttons=quick_buttons(lang),
    )


def help_card(lang: Lang, problem: str | None = None) -> Card:
    lines = "\n".join(f"- `{cmd}` {tr(lang, zh, en)}" for cmd, zh, en in SLASH_HELP)
    blocks: list[Any] = []
    if problem:
        blocks.append(Note(problem, Tone.WARNING))
    blocks.append(Markdown(tr(lang, "**命令**\n", "**Commands**\n") + lines))
    blocks.append(
        Markdown(
            tr(
                lang,
                "也可以直接用中文或英文提问；参数不全时我会一步步问你，并给出可选项。",
                "You can also just ask in English or Chinese; when something is missing I ask, with choices.",
            )
        )
    )
    return Card(title=tr(lang, "KubeDuty 帮助", "KubeDuty help"), blocks=tuple(blocks), buttons=quick_buttons(lang))


def notice_card(lang: Lang, title: str, text: str, tone: Tone = Tone.INFO) -> Card:
    return Card(title=title, blocks=(Markdown(text),) if text else (), tone=tone)


def cancelled_card(lang: Lang) -> Card:
    return notice_card(lang, tr(lang, "已取消", "Cancelled"), tr(lang, "好的，已取消。", "OK, cancelled."))


_ASK = {
    "namespace": ("在哪个命名空间？", "Which namespace?"),
    "pod": ("是哪个 Pod？", "Which pod?"),
    "deployment": ("是哪个 Deployment？", "Which deployment?"),
    "statefulset": ("是哪个 StatefulSet？", "Which statefulset?"),
    "container": ("哪个容器？", "Which container?"),
    "node": ("哪个节点？", "Which node?"),
    "cluster": ("哪个集群？", "Which cluster?"),
}
# plain values typed by the user (no choices to offer)
_ASK_VALUE = {
    "replicas": ("要调整到几个副本？请输入数字。", "How many replicas? Type a number."),
    "tail_lines": ("要看最后多少行？请输入数字。", "How many lines from the end? Type a number."),
    "revision": ("回滚到哪个版本号？请输入数字。", "Which revision to roll back to? Type a number."),
}
_ALL = {
    "namespace": ("列出所有命名空间", "List all namespaces"),
    "pod": ("列出所有 Pod", "List all pods"),
    "deployment": ("列出所有 Deployment", "List all deployments"),
    "node": ("列出所有节点", "List all nodes"),
}


def _flow_args(flow: Flow) -> dict[str, Any]:
    return {k: v for k, v in flow.args.items() if v is not None}


def question_card(
    lang: Lang,
    info: ToolInfo,
    flow: Flow,
    slot: str,
    what: str | None,
    options: list[str],
    page: int,
    page_size: int,
    intro: str,
) -> Card:
    base: dict[str, Any] = {"t": info.name, "a": _flow_args(flow)}
    if flow.hints:
        base["h"] = dict(flow.hints)
    if flow.plan:
        base["pl"] = 1
    if what is None and (info.name, slot) == ("workload_health", "name"):
        question = tr(
            lang,
            "要检查哪个工作负载？点一个，或输入名字/名字前缀。",
            "Which workload? Pick one, or type its name or a prefix.",
        )
    elif what is None and slot in _ASK_VALUE:
        question = tr(lang, *_ASK_VALUE[slot])
    elif what is None:
        spec = info.properties.get(slot, {})
        desc = str(spec.get("description") or slot)
        question = tr(lang, "请输入 `{s}`（{d}）。", "Please type `{s}` ({d}).", s=slot, d=desc)
    else:
        zh, en = _ASK.get(what, (f"请选择 {slot}", f"Which {slot}?"))
        question = tr(lang, zh, en)
    blocks: list[Any] = [Markdown(describe_request(lang, info, flow))]
    if intro:
        blocks.append(Markdown(intro))
    buttons: list[Button] = []
    start = max(0, page) * page_size
    shown = options[start : start + page_size]
    for opt in shown:
        crash = {"cr": 1} if opt in flow.crashing else {}
        only = {"c": flow.containers[opt]} if slot == "pod" and opt in flow.containers else {}
        buttons.append(Button(opt, Action("pick", {**base, "s": slot, "v": opt, **crash, **only})))
    if start + page_size < len(options):
        buttons.append(
            Button(
                tr(
                    lang,
                    "更多（{a}-{b}/{n}）",
                    "More ({a}-{b} of {n})",
                    a=start + page_size + 1,
                    b=min(len(options), start + 2 * page_size),
                    n=len(options),
                ),
                Action("opts", {**base, "s": slot, "p": page + 1}),
            )
        )
    if page > 0 and start > 0:  # paged forward: the way back too, not only "more"
        back = max(0, start - page_size)
        buttons.append(
            Button(
                tr(lang, "上一页（{a}-{b}/{n}）", "Previous ({a}-{b} of {n})", a=back + 1, b=start, n=len(options)),
                Action("opts", {**base, "s": slot, "p": page - 1}),
            )
        )
    if what is not None and (not flow.complete or not options):
        zh, en = _ALL.get(what, ("列出全部", "List all"))
        buttons.append(Button(tr(lang, zh, en), Action("opts", {**base, "s": slot, "p": 0})))
    buttons.append(Button(tr(lang, "取消", "Cancel"), Action("cancel")))
    if len(options) > len(shown):
        blocks.append(
            Markdown(
                tr(
                    lang,
                    "共 {n} 个可选，显示第 {a}-{b} 个。",
                    "{n} choices; showing {a}-{b}.",
                    n=len(options),
                    a=start + 1,
                    b=start + len(shown),
                )
            )
        )
    return Card(
        title=question,
        blocks=tuple(blocks),
        buttons=tuple(buttons),
        input_hint=tr(
            lang, "也可以直接输入名字或序号（如「第二个」）", 'or type a name or a position ("the second one")'
        )
        if what is not None or options
        else tr(lang, "直接输入", "type it"),
    )


def plan_card(lang: Lang, info: ToolInfo, args: dict[str, Any], go: Action) -> Card:
    name, ns = args.get("name", "?"), args.get("namespace", "?")
    steps = tr(
        lang,
        "1. 找到 `{ns}` 里名字包含 `{n}` 的 Deployment 和 Pod\n2. 查看这些 Pod 的事件（Warning 优先）\n"
        "3. 读取失败容器的日志（崩溃的看上一个实例）\n4. 检查 Deployment 的就绪/更新状态\n5. 汇总发现和建议",
        "1. Find the deployments and pods matching `{n}` in `{ns}`\n2. Read those pods' events (warnings first)\n"
        "3. Read the logs of failing containers (the previous instance when crashed)\n4. Check the deployments' "
        "ready/updated status\n5. Summarise findings and advice",
        n=name,
        ns=ns,
    )
    return Card(
        title=tr(lang, "健康检查计划：{n}", "Health check plan: {n}", n=name),
        blocks=(
            Markdown(steps),
            Note(
                tr(lang, "全部是只读操作，不会改动集群。", "All steps are reads; nothing in the cluster changes."),
                Tone.INFO,
            ),
        ),
        buttons=(
            Button(tr(lang, "开始检查", "Run the checks"), go, ButtonStyle.PRIMARY),
            Button(tr(lang, "取消", "Cancel"), Action("cancel")),
        ),
    )


def source_status_card(lang: Lang, gateway: object) -> Card | None:
    """The tool sources' health for `/status`: shown when there is more than our own, or one is failing."""
    from bot.tooling.mcp_source import source_statuses

    sources = list(getattr(gateway, "sources", []) or [])
    statuses = source_statuses(sources)
    errors: dict[str, str] = dict(getattr(gateway, "errors", {}) or {})
    if len(statuses) <= 1 and all(s.healthy for s in statuses) and not errors:
        return None
    lines = [s.line(lang) for s in statuses]
    lines += [f"⚠ {name}: {err}" for name, err in errors.items() if not any(s.name == name for s in statuses)]
    healthy = all(s.healthy for s in statuses) and not errors
    return Card(
        title=tr(lang, "工具来源", "Tool sources"),
        blocks=(Markdown("\n".join(f"- {line}" for line in lines)),),
        tone=Tone.INFO if healthy else Tone.WARNING,
    )


def did_you_mean_card(
    lang: Lang,
    word: str,
    names: list[str],
    tool: str,
    args: dict[str, Any],
    hints: dict[str, str],
    slot: str,
    plan: bool,
) -> tuple[Card, Action]:
    """ "cart-servce" names nothing: ask about the closest names; the first is what a typed "yes" picks."""
    actions = []
    for name in names[:3]:
        body: dict[str, Any] = {
            "t": tool,
            "a": {k: v for k, v in args.items() if v is not None},
            "h": {**hints, slot: name},
        }
        if plan:
            body["pl"] = 1
        actions.append(Action("run", body))
    buttons = [
        Button(n, a, ButtonStyle.PRIMARY if i == 0 else ButtonStyle.DEFAULT)
        for i, (n, a) in enumerate(zip(names[:3], actions, strict=True))
    ]
    buttons.append(Button(tr(lang, "都不是", "None of these"), Action("cancel"), ButtonStyle.DEFAULT))
    listed = " / ".join(f"`{n}`" for n in names[:3])
    card = Card(
        title=tr(lang, "你是不是想找 {n}？", "Did you mean {n}?", n=names[0]),
        blocks=(
            Markdown(
                tr(
                    lang,
                    "没有找到 `{w}`。你是不是想找 {c}？回复「对」或点一个名字继续。",
                    'I found nothing named `{w}`. Did you mean {c}? Say "yes" or pick a name to go on.',
                    w=word[:80],
                    c=listed,
                )
            ),
        ),
        buttons=tuple(buttons),
        tone=Tone.WARNING,
    )
    return card, actions[0]
