"""The analyzer interface, its input, the registry, and the runner that isolates failures.

Analyzers get already-fetched data (the result models), never clients: they are pure and cheap to test.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tools.k8s.models import DeploymentInfo, EventInfo, Finding, NodeInfo, PodSummary

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DiagnosisInput:
    pods: Sequence[PodSummary] = ()
    deployments: Sequence[DeploymentInfo] = ()
    nodes: Sequence[NodeInfo] = ()
    events: Sequence[EventInfo] = ()
    # per "namespace/pod": findings from other kinds can point at them (a deployment's failing pods)
    pods_by_workload: Mapping[str, Sequence[PodSummary]] = field(default_factory=dict)

    def events_for(self, kind: str, name: str) -> list[EventInfo]:
        target = f"{kind}/{name}"
        return [e for e in self.events if e.object == target]


class Analyzer(Protocol):
    kind: str  # the resource kind it judges: Pod, Deployment, Node

    def analyze(self, data: DiagnosisInput) -> list[Finding]: ...


def run_analyzers(data: DiagnosisInput, registry: Mapping[str, Analyzer]) -> list[Finding]:
    """Every analyzer in the registry, in order; one that raises is logged and skipped, the others still run."""
    findings: list[Finding] = []
    for kind, analyzer in registry.items():
        try:
            findings.extend(analyzer.analyze(data))
        except Exception:  # isolation is the point: log and go on
            log.exception("analyzer %s failed", kind)
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: order.get(f.severity, 3))
