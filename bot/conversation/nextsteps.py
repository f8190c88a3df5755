"""Guided exploration: after every result, the next steps that fit it (a crashing pod: previous logs and
events first, with a best-practice tip). Pure: result data in, buttons and notes out."""

from __future__ import annotations

from typing import Any

from bot.core.actions import Action, run_tool_action
from bot.core.i18n import Lang, tr
from bot.render.model import Button, ButtonStyle, Note, Tone

MAX_BUTTONS = 8
CRASH = {"CrashLoopBackOff", "Error", "OOMKilled", "RunContainerError", "CreateContainerError"}
# The container never ran: there are no logs to read yet, the reason is in the events (image, scheduling ...).
NOT_STARTED = {
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ContainerCreating",
    "CreateContainerConfigError",
    "PodInitializing",
    "Pending",
    "Unschedulable",
}


def run(tool: str, args: dict[str, Any], *, plan: bool = False) -> Action:
    """A self-contained button: the tool and its arguments; whoever clicks runs it under their own identity."""
    return run_tool_action(tool, args, plan=plan)


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _crashing(pod: dict[str, Any]) -> bool:
    if str(pod.get("status", "")) in CRASH:
        return True
    return any(str(c.get("reason", "")) in CRASH for c in pod.get("containers", []) if isinstance(c, dict))


def _base(args: dict[str, Any]) -> dict[str, Any]:
    return {"cluster": args["cluster"]} if args.get("cluster") else {}


def not_started(pod: dict[str, Any]) -> bool:
    """A pod (listing item or overview row) whose container has not run yet: logs would only fail."""
    if str(pod.get("status", "")) in NOT_STARTED or str(pod.get("reason", "")) in NOT_STARTED:
        return True
    containers = [c for c in pod.get("containers", []) if isinstance(c, dict)]
    return bool(containers) and all(str(c.get("reason", "")) in NOT_STARTED for c in containers)


def _pod_buttons(
    lang: Lang, base: dict[str, Any], ns: str, pod: str, crashing: bool, *, started: bool = True
) -> list[Button]:
    ref = {**base, "namespace": ns, "pod": pod}
    if not started:  # no logs yet: why it does not start is in the events, then the pod's details
        return [
            Button(
                tr(lang, "事件 {p}", "Events {p}", p=_short(pod)),
                run("list_events", {**base, "namespace": ns, "object_name": pod}),
                ButtonStyle.PRIMARY,
            ),
            Button(tr(lang, "描述 {p}", "Describe {p}", p=_short(pod)), run("describe_pod", ref)),
        ]
    logs = Button(tr(lang, "日志 {p}", "Logs {p}", p=_short(pod)), run("pod_logs", ref))
    prev = Button(
        tr(lang, "上次崩溃日志 {p}", "Previous logs {p}", p=_short(pod)),
        run("pod_logs", {**ref, "previous": True}),
        ButtonStyle.PRIMARY,
    )
    events = Button(
        tr(lang, "事件 {p}", "Events {p}", p=_short(pod)),
        run("list_events", {**base, "namespace": ns, "object_name": pod}),
    )
    return [prev, events, logs] if crashing else [logs, events]


def crash_tip(lang: Lang) -> Note:
    return Note(
        tr(
            lang,
            "最佳实践：容器反复崩溃时，先看上一个实例的日志（崩溃原因通常在那里）和事件，确认原因后再考虑重启或回滚。",
            "Best practice: for a crashing container, read the previous instance's logs (the crash reason is usually "
            "there) and the events first; restart or roll back only once you know why.",
        ),
        Tone.WARNING,
    )


def crashing_pods(data: dict[str, Any] | None) -> list[str]:
    """Names of the crash-looping pods in a pod listing."""
    items = (data or {}).get("items", []) if isinstance(data, dict) else []
    return [str(p.get("name")) for p in items if isinstance(p, dict) and _crashing(p)]


def next_steps(
    tool: str, args: dict[str, Any], data: dict[str, Any] | None, lang: Lang, *, crashing: bool = False
) -> tuple[list[Button], list[Note]]:
    buttons: list[Button] = []
    notes: list[Note] = []
    base = _base(args)
    d = data if isinstance(data, dict) else {}
    if tool == "cluster_overview":
        for p in list(d.get("unhealthy_pods", []))[:2]:
            crash = str(p.get("reason", "")) in CRASH or int(p.get("restarts", 0) or 0) > 0
            started = not not_started(p)
            buttons += _pod_buttons(lang, base, str(p.get("namespace")), str(p.get("name")), crash, started=started)[:2]
            if crash and not notes:
                notes.append(crash_tip(lang))
        buttons.append(Button(tr(lang, "显示所有命名空间", "Show namespaces"), run("list_namespaces", base)))
        buttons.append(Button(tr(lang, "节点列表", "Nodes"), run("list_nodes", base)))
        buttons.append(
            Button(tr(lang, "异常 Pod", "Unhealthy pods"), run("list_pods", {**base, "only_unhealthy": True}))
        )
    elif tool == "list_namespaces":
        for n in list(d.get("items", []))[:6]:
            name = str(n.get("name"))
            buttons.append(
                Button(tr(lang, "{n} 的 Pod", "Pods in {n}", n=name), run("list_pods", {**base, "namespace": name}))
            )
    elif tool == "list_clusters":
        for c in list(d.get("items", []))[:4]:
            buttons.append(
                Button(
                    tr(lang, "{c} 总览", "Overview of {c}", c=c.get("name")),
                    run("cluster_overview", {"cluster": c.get("name")}),
                )
            )
    elif tool == "list_pods":
        items = [p for p in d.get("items", []) if isinstance(p, dict)]
        bad = sorted((p for p in items if not p.get("healthy", True)), key=lambda p: not _crashing(p))
        for p in (bad or items)[: 2 if bad else 3]:
            crash = _crashing(p)
            got = _pod_buttons(
                lang, base, str(p.get("namespace")), str(p.get("name")), crash, started=not not_started(p)
            )
            buttons += got[:2] if bad else got[:1]
            if crash and not notes:
                notes.append(crash_tip(lang))
        if not args.get("only_unhealthy") and bad:
            buttons.append(
                Button(tr(lang, "只看异常", "Only unhealthy"), run("list_pods", {**args, "only_unhealthy": True}))
            )
        if not items and args.get("name_filter"):  # "show me teh pods": a filter word that matched nothing
            notes.append(
                Note(
                    tr(
                        lang,
                        "没有名字包含 `{f}` 的 Pod。",
                        "No pod name contains `{f}`.",
                        f=args["name_filter"],
                    ),
                    Tone.WARNING,
                )
            )
            unfiltered = {k: v for k, v in args.items() if k != "name_filter"}
            buttons.append(Button(tr(lang, "不过滤，列出全部", "All pods, no filter"), run("list_pods", unfiltered)))
    elif tool == "pod_logs":
        ns, pod = str(d.get("namespace", args.get("namespace"))), str(d.get("pod", args.get("pod")))
        ref = {**base, "namespace": ns, "pod": pod}
        buttons.append(Button(tr(lang, "描述 Pod", "Describe pod"), run("describe_pod", ref)))
        buttons.append(
            Button(tr(lang, "查看事件", "Events"), run("list_events", {**base, "namespace": ns, "object_name": pod}))
        )
        container = d.get("container") or args.get("container")
        cargs = {"container": container} if container else {}
        if d.get("previous") or args.get("previous"):
            buttons.append(Button(tr(lang, "当前日志", "Current logs"), run("pod_logs", {**ref, **cargs})))
        else:
            prev = Button(
                tr(lang, "上一次的日志", "Previous logs"),
                run("pod_logs", {**ref, **cargs, "previous": True}),
                ButtonStyle.PRIMARY if crashing else ButtonStyle.DEFAULT,
            )
            if crashing:  # the crash reason is in the previous instance: offer it first, then its events
                buttons = [prev, buttons[1], buttons[0]]
                notes.append(crash_tip(lang))
            else:
                buttons.append(prev)
        for c in [c for c in d.get("containers", []) if c != container][:2]:
            buttons.append(Button(tr(lang, "容器 {c}", "Container {c}", c=c), run("pod_logs", {**ref, "container": c})))
    elif tool == "describe_pod":
        ns, pod = str(d.get("namespace", args.get("namespace"))), str(d.get("name", args.get("pod")))
        containers = [c for c in d.get("containers", []) if isinstance(c, dict)]
        crash = str(d.get("status", "")) in CRASH or any(
            str(c.get("reason", "")) in CRASH or "terminated" in str(c.get("last_state", "")) for c in containers
        )
        waiting = bool(containers) and all(str(c.get("reason", "")) in NOT_STARTED for c in containers)
        buttons += _pod_buttons(lang, base, ns, pod, crash, started=not waiting)[: 1 if waiting else 3]
        if crash:
            notes.append(crash_tip(lang))
    elif tool == "list_events":
        objs: list[str] = []
        for e in d.get("items", []):
            obj = str(e.get("object", "")) if isinstance(e, dict) else ""
            if obj.startswith("Pod/") and obj not in objs and e.get("namespace"):
                objs.append(obj)
                buttons.append(
                    Button(
                        tr(lang, "日志 {p}", "Logs {p}", p=_short(obj[4:])),
                        run("pod_logs", {**base, "namespace": e.get("namespace"), "pod": obj[4:]}),
                    )
                )
            if len(objs) >= 2:
                break
    elif tool == "list_deployments":
        for dep in [x for x in d.get("items", []) if isinstance(x, dict) and not x.get("healthy", True)][:3]:
            buttons.append(
                Button(
                    tr(lang, "检查 {n}", "Check {n}", n=_short(str(dep.get("name")))),
                    run("workload_health", {**base, "namespace": dep.get("namespace"), "name": dep.get("name")}),
                    ButtonStyle.PRIMARY,
                )
            )
    elif tool == "workload_health":
        ns = str(d.get("namespace", args.get("namespace")))
        bad = [p for p in d.get("pods", []) if isinstance(p, dict) and not p.get("healthy", True)]
        for p in bad[:2]:
            crash = _crashing(p)
            buttons += _pod_buttons(lang, base, ns, str(p.get("name")), crash, started=not not_started(p))[:2]
            if crash and not notes:
                notes.append(crash_tip(lang))
        if not bad:
            buttons.append(
                Button(tr(lang, "{n} 的 Pod", "Pods in {n}", n=ns), run("list_pods", {**base, "namespace": ns}))
            )
    return buttons[:MAX_BUTTONS], notes
