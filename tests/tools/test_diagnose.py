"""Analyzers judge already-fetched result models; one that fails never stops the others."""

from __future__ import annotations

from tools.diagnose import REGISTRY, DiagnosisInput, diagnose
from tools.diagnose.base import Analyzer
from tools.k8s.models import ContainerBrief, DeploymentInfo, EventInfo, Finding, NodeInfo, PodSummary


def pod(
    name: str, *, phase: str = "Running", status: str = "Running", healthy: bool = False, **c: object
) -> PodSummary:
    container = ContainerBrief.model_validate({"name": "app", **c})
    return PodSummary(
        namespace="dev", name=name, phase=phase, status=status, ready="0/1", healthy=healthy, containers=[container]
    )


def one(data: DiagnosisInput) -> Finding:
    findings = diagnose(data)
    assert len(findings) == 1, findings
    return findings[0]


def test_a_crash_loop_advises_reading_previous_logs_in_both_languages() -> None:
    f = one(
        DiagnosisInput(
            pods=[
                pod(
                    "api-1",
                    status="CrashLoopBackOff",
                    state="waiting",
                    reason="CrashLoopBackOff",
                    restarts=7,
                    last_reason="Error",
                    last_exit_code=1,
                )
            ]
        )
    )
    assert (f.problem, f.severity) == ("CrashLoopBackOff", "critical")
    assert "previous" in f.advice_en and "日志" in f.advice_zh
    assert "restarts: 7" in f.detail and "code 1" in f.detail


def test_a_container_killed_for_memory_is_reported_as_oomkilled_even_while_backing_off() -> None:
    f = one(
        DiagnosisInput(
            pods=[
                pod(
                    "orders-1",
                    status="CrashLoopBackOff",
                    state="waiting",
                    reason="CrashLoopBackOff",
                    restarts=3,
                    last_reason="OOMKilled",
                    last_exit_code=137,
                )
            ]
        )
    )
    assert f.problem == "OOMKilled"
    assert "memory limit" in f.advice_en and "内存" in f.advice_zh


def test_an_image_pull_failure_quotes_the_event_and_advises_checking_the_tag() -> None:
    ev = EventInfo(
        namespace="dev",
        type="Warning",
        reason="Failed",
        object="Pod/fe-1",
        message='Failed to pull image "x:v2-typo": not found',
    )
    f = one(
        DiagnosisInput(
            pods=[pod("fe-1", phase="Pending", status="ImagePullBackOff", state="waiting", reason="ImagePullBackOff")],
            events=[ev],
        )
    )
    assert f.problem == "ImagePullBackOff"
    assert "x:v2-typo" in f.detail
    assert "tag" in f.advice_en and "镜像" in f.advice_zh


def test_an_unschedulable_pod_points_at_resources_and_taints() -> None:
    ev = EventInfo(
        namespace="dev",
        type="Warning",
        reason="FailedScheduling",
        object="Pod/rw-1",
        message="0/3 nodes are available: 3 Insufficient memory.",
    )
    p = PodSummary(namespace="dev", name="rw-1", phase="Pending", status="Pending", ready="0/1", healthy=False)
    f = one(DiagnosisInput(pods=[p], events=[ev]))
    assert f.problem == "Unschedulable"
    assert "Insufficient memory" in f.detail
    assert "taints" in f.advice_en


def test_a_deployment_with_nothing_available_is_critical_and_suggests_rollback_after_a_rollout() -> None:
    d = DeploymentInfo(namespace="dev", name="frontend", desired=2, ready=0, available=0, revision=2, healthy=False)
    f = one(DiagnosisInput(deployments=[d]))
    assert (f.kind, f.problem, f.severity) == ("Deployment", "Unavailable", "critical")
    assert "roll back" in f.advice_en and "回滚" in f.advice_zh


def test_healthy_things_produce_no_findings() -> None:
    healthy = pod("ok-1", healthy=True, ready=True, state="running")
    d = DeploymentInfo(namespace="dev", name="ok", desired=1, ready=1, available=1, healthy=True)
    n = NodeInfo(name="node-1", ready=True)
    assert diagnose(DiagnosisInput(pods=[healthy], deployments=[d], nodes=[n])) == []


def test_nodes_not_ready_and_cordoned_are_reported_with_their_severity() -> None:
    findings = diagnose(
        DiagnosisInput(nodes=[NodeInfo(name="n1", ready=False), NodeInfo(name="n2", ready=True, unschedulable=True)])
    )
    assert [(f.name, f.problem, f.severity) for f in findings] == [
        ("n1", "NotReady", "critical"),
        ("n2", "Cordoned", "info"),
    ]


class Exploding:
    kind = "Boom"

    def analyze(self, data: DiagnosisInput) -> list[Finding]:
        raise RuntimeError("analyzer bug")


def test_one_failing_analyzer_never_stops_the_others() -> None:
    registry: dict[str, Analyzer] = {"Boom": Exploding(), **REGISTRY}
    d = DeploymentInfo(namespace="dev", name="frontend", desired=1, ready=0, available=0, healthy=False)
    findings = diagnose(DiagnosisInput(deployments=[d], nodes=[NodeInfo(name="n1", ready=False)]), registry)
    assert {f.kind for f in findings} == {"Deployment", "Node"}


def test_findings_come_most_severe_first() -> None:
    findings = diagnose(
        DiagnosisInput(
            nodes=[NodeInfo(name="n2", ready=True, unschedulable=True)],
            deployments=[DeploymentInfo(namespace="dev", name="a", desired=1, ready=0, available=0, healthy=False)],
        )
    )
    assert [f.severity for f in findings] == ["critical", "info"]
