"""Pods: crash loops, memory kills, image pulls, scheduling, config errors, readiness."""

from __future__ import annotations

from typing import Literal

from tools.diagnose.base import DiagnosisInput
from tools.k8s.models import EventInfo, Finding, PodSummary

Severity = Literal["info", "warning", "critical"]
_PULL = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
_CONFIG = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


def _evidence(events: list[EventInfo], *reasons: str) -> str:
    for e in events:
        if e.reason in reasons and e.message:
            return e.message
    return ""


class PodAnalyzer:
    kind = "Pod"

    def analyze(self, data: DiagnosisInput) -> list[Finding]:
        out: list[Finding] = []
        for pod in data.pods:
            if pod.healthy:
                continue
            finding = self._one(pod, data.events_for("Pod", pod.name))
            if finding is not None:
                out.append(finding)
        return out

    def _one(self, pod: PodSummary, events: list[EventInfo]) -> Finding | None:
        def make(problem: str, severity: Severity, detail: str, en: str, zh: str, detail_zh: str = "") -> Finding:
            return Finding(
                detail_zh=detail_zh,
                kind="Pod",
                namespace=pod.namespace,
                name=pod.name,
                severity=severity,
                problem=problem,
                detail=detail,
                advice_en=en,
                advice_zh=zh,
            )

        for c in pod.containers:
            if c.reason == "OOMKilled" or c.last_reason == "OOMKilled":
                return make(
                    "OOMKilled",
                    "critical",
                    f"container {c.name} was killed for exceeding its memory limit (exit 137), restarts: {c.restarts}",
                    "Raise the container's memory limit, or look for a memory leak (recent releases, heap growth).",
                    "容器超出内存限制被杀死：调高内存 limit，或排查内存泄漏（最近的发布、堆内存增长）。",
                    f"容器 {c.name} 因超出内存限制被杀死（退出码 137），重启次数：{c.restarts}",
                )
        for c in pod.containers:
            if c.reason == "CrashLoopBackOff":
                last = f"last exit: {c.last_reason or 'unknown'}" + (
                    f" (code {c.last_exit_code})" if c.last_exit_code is not None else ""
                )
                return make(
                    "CrashLoopBackOff",
                    "critical",
                    f"container {c.name} keeps crashing, restarts: {c.restarts}, {last}",
                    "Check the previous container's logs (the crash) and the pod's events; then fix config/dependencies or roll back.",
                    "查看上一次容器的日志（崩溃原因）和 Pod 事件；再修复配置/依赖，或回滚。",
                    f"容器 {c.name} 反复崩溃，重启次数：{c.restarts}，上次退出：{c.last_reason or '未知'}"
                    + (f"（退出码 {c.last_exit_code}）" if c.last_exit_code is not None else ""),
                )
        for c in pod.containers:
            if c.reason in _PULL:
                return make(
                    "ImagePullBackOff",
                    "critical",
                    _evidence(events, "Failed", "ErrImagePull") or f"container {c.name}: {c.reason}",
                    "Check the image name and tag exist in the registry, and the pull secret / registry access.",
                    "检查镜像名称和 tag 是否存在于镜像仓库，以及拉取密钥（imagePullSecrets）/仓库访问权限。",
                    "" if _evidence(events, "Failed", "ErrImagePull") else f"容器 {c.name}：{c.reason}",
                )
        for c in pod.containers:
            if c.reason in _CONFIG:
                return make(
                    c.reason,
                    "critical",
                    _evidence(events, "Failed") or f"container {c.name}: {c.reason}",
                    "A referenced ConfigMap/Secret or key is missing, or the command is wrong: check the pod spec and events.",
                    "引用的 ConfigMap/Secret 或其中的 key 不存在，或启动命令有误：检查 Pod 配置和事件。",
                    "" if _evidence(events, "Failed") else f"容器 {c.name}：{c.reason}",
                )
        if pod.phase == "Pending":
            detail = _evidence(events, "FailedScheduling") or pod.message
            if detail or pod.status == "Pending":
                return make(
                    "Unschedulable" if detail else "Pending",
                    "warning",
                    detail or "pod is pending",
                    "No node fits: not enough CPU/memory for the requests, or taints/affinity exclude the nodes. Lower requests, add capacity or fix selectors.",
                    "没有节点满足调度条件：CPU/内存不足以满足 requests，或污点/亲和性排除了节点。降低 requests、扩容节点或修正选择器。",
                    "" if detail else "Pod 在等待调度",
                )
        if pod.status == "Terminating":
            return make(
                "Terminating",
                "warning",
                "pod is stuck terminating",
                "Check finalizers and whether the node is reachable.",
                "检查 finalizers 以及节点是否可达。",
                "Pod 一直停在终止中",
            )
        if pod.phase == "Failed" or pod.status in ("Error", "Evicted") or pod.status.startswith(("ExitCode", "Init:")):
            return make(
                pod.status,
                "critical",
                pod.message or f"pod status {pod.status}",
                "Read the pod's logs (previous instance too) and events.",
                "查看 Pod 日志（包括上一次实例）和事件。",
                "" if pod.message else f"Pod 状态：{pod.status}",
            )
        if pod.phase == "Running":
            not_ready = [c.name for c in pod.containers if not c.ready]
            return make(
                "NotReady",
                "warning",
                _evidence(events, "Unhealthy") or f"containers not ready: {', '.join(not_ready) or '?'}",
                "The readiness probe fails: check the probe's endpoint/port and the app's startup in the logs.",
                "就绪探针失败：检查探针的路径/端口，并在日志中查看应用启动情况。",
                "" if _evidence(events, "Unhealthy") else f"容器未就绪：{'、'.join(not_ready) or '?'}",
            )
        return make(
            pod.status or pod.phase,
            "warning",
            pod.message,
            "Check the pod's events and logs.",
            "查看 Pod 的事件和日志。",
        )
