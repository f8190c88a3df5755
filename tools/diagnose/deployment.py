"""Deployments: not at the desired number of available replicas."""

from __future__ import annotations

from tools.diagnose.base import DiagnosisInput
from tools.k8s.models import Finding


class DeploymentAnalyzer:
    kind = "Deployment"

    def analyze(self, data: DiagnosisInput) -> list[Finding]:
        out: list[Finding] = []
        for d in data.deployments:
            if d.healthy:
                continue
            zero = d.available == 0 and d.desired > 0
            rollback_en = (
                f" It is at revision {d.revision}: if the last rollout broke it, roll back."
                if d.revision and d.revision > 1
                else ""
            )
            rollback_zh = (
                f" 当前为第 {d.revision} 版：如果是最近一次发布导致，可回滚。" if d.revision and d.revision > 1 else ""
            )
            out.append(
                Finding(
                    kind="Deployment",
                    namespace=d.namespace,
                    name=d.name,
                    severity="critical" if zero else "warning",
                    problem="Unavailable" if zero else "Degraded",
                    detail=f"ready {d.ready}/{d.desired}, available {d.available}, updated {d.updated}; images: {', '.join(d.images)}",
                    detail_zh=f"就绪 {d.ready}/{d.desired}，可用 {d.available}，已更新 {d.updated}；镜像：{'、'.join(d.images)}",
                    advice_en="Look at the findings of its pods (crash, image, scheduling)." + rollback_en,
                    advice_zh="查看其 Pod 的诊断（崩溃、镜像、调度）。" + rollback_zh,
                )
            )
        return out
