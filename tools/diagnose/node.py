"""Nodes: not ready, cordoned."""

from __future__ import annotations

from tools.diagnose.base import DiagnosisInput
from tools.k8s.models import Finding


class NodeAnalyzer:
    kind = "Node"

    def analyze(self, data: DiagnosisInput) -> list[Finding]:
        out: list[Finding] = []
        for n in data.nodes:
            if not n.ready:
                out.append(
                    Finding(
                        kind="Node",
                        name=n.name,
                        severity="critical",
                        problem="NotReady",
                        detail=f"node {n.name} is not Ready",
                        detail_zh=f"节点 {n.name} 未就绪",
                        advice_en="Check the kubelet and the node's network/disk/memory pressure; its pods will be evicted.",
                        advice_zh="检查 kubelet 以及节点的网络/磁盘/内存压力；其上的 Pod 会被驱逐。",
                    )
                )
            elif n.unschedulable:
                out.append(
                    Finding(
                        kind="Node",
                        name=n.name,
                        severity="info",
                        problem="Cordoned",
                        detail=f"node {n.name} is cordoned (unschedulable)",
                        detail_zh=f"节点 {n.name} 已封锁（不可调度）",
                        advice_en="New pods will not be scheduled here; uncordon it when maintenance is over.",
                        advice_zh="新 Pod 不会调度到该节点；维护结束后请取消封锁（uncordon）。",
                    )
                )
        return out
