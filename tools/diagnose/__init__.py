"""Diagnosis: one analyzer per resource kind (k8sgpt-style), fed with already-fetched result models."""

from __future__ import annotations

from collections.abc import Mapping

from tools.diagnose.base import Analyzer, DiagnosisInput, run_analyzers
from tools.diagnose.deployment import DeploymentAnalyzer
from tools.diagnose.node import NodeAnalyzer
from tools.diagnose.pod import PodAnalyzer
from tools.k8s.models import Finding

REGISTRY: dict[str, Analyzer] = {
    "Pod": PodAnalyzer(),
    "Deployment": DeploymentAnalyzer(),
    "Node": NodeAnalyzer(),
}


def diagnose(data: DiagnosisInput, registry: Mapping[str, Analyzer] | None = None) -> list[Finding]:
    return run_analyzers(data, REGISTRY if registry is None else registry)


__all__ = ["REGISTRY", "Analyzer", "DiagnosisInput", "diagnose", "run_analyzers"]
