"""Shaping API JSON into result models: kubectl's STATUS column, ready counts, owners, env references."""

from __future__ import annotations

from typing import Any

import pytest

from tools.k8s import convert as cv


def pod(statuses: list[dict[str, Any]], *, phase: str = "Running", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "dev", **extra.pop("metadata", {})},
        "spec": {"containers": [{"name": s["name"]} for s in statuses] or [{"name": "app"}], **extra.pop("spec", {})},
        "status": {"phase": phase, "containerStatuses": statuses, **extra.pop("status", {})},
    }
    return doc


def cs(
    name: str = "app",
    *,
    ready: bool = False,
    restarts: int = 0,
    state: dict[str, Any],
    last: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, "state": state, "lastState": last or {}}


RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}


@pytest.mark.parametrize(
    ("doc", "status"),
    [
        (pod([cs(ready=True, state=RUNNING)]), "Running"),
        (pod([cs(state={"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4)]), "CrashLoopBackOff"),
        (pod([cs(state={"waiting": {"reason": "ImagePullBackOff"}})], phase="Pending"), "ImagePullBackOff"),
        (pod([cs(state={"terminated": {"reason": "OOMKilled", "exitCode": 137}})]), "OOMKilled"),
        (pod([cs(state={"terminated": {"exitCode": 2}})], phase="Failed"), "ExitCode:2"),
        (pod([cs(state={"terminated": {"exitCode": 0, "signal": 9}})], phase="Failed"), "Signal:9"),
        (pod([], phase="Pending"), "Pending"),
        (pod([cs(ready=True, state=RUNNING)], metadata={"deletionTimestamp": "2026-01-01T00:00:00Z"}), "Terminating"),
        (
            pod([cs(state={"terminated": {"reason": "Evicted"}})], phase="Failed", status={"reason": "Evicted"}),
            "Evicted",
        ),
        (
            pod(
                [cs(state={"waiting": {"reason": "PodInitializing"}})],
                phase="Pending",
                status={
                    "initContainerStatuses": [{"name": "init", "state": {"waiting": {"reason": "PodInitializing"}}}]
                },
                spec={"initContainers": [{"name": "init"}]},
            ),
            "Init:0/1",
        ),
        (
            pod(
                [cs(state={"waiting": {"reason": "PodInitializing"}})],
                phase="Pending",
                status={
                    "initContainerStatuses": [
                        {"name": "init", "state": {"terminated": {"reason": "Error", "exitCode": 1}}}
                    ]
                },
            ),
            "Init:Error",
        ),
    ],
)
def test_status_matches_what_kubectl_shows(doc: dict[str, Any], status: str) -> None:
    assert cv.pod_status(doc) == status


def test_a_multi_container_pod_reports_ready_count_and_total_restarts() -> None:
    doc = pod(
        [
            cs("web", ready=True, state=RUNNING, restarts=1),
            cs("sidecar", state={"waiting": {"reason": "CrashLoopBackOff"}}, restarts=5),
        ]
    )
    s = cv.pod_summary(doc)
    assert (s.ready, s.restarts, s.status, s.healthy) == ("1/2", 6, "CrashLoopBackOff", False)


def test_a_replicaset_owner_maps_to_its_deployment_by_stripping_the_hash() -> None:
    doc = pod(
        [cs(ready=True, state=RUNNING)],
        metadata={
            "labels": {"pod-template-hash": "7d9f8c6b5d"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "cart-service-v2-7d9f8c6b5d", "controller": True}],
        },
    )
    s = cv.pod_summary(doc)
    assert s.owner == "ReplicaSet/cart-service-v2-7d9f8c6b5d"
    assert s.workload == "Deployment/cart-service-v2"
    assert s.healthy


def test_an_unschedulable_pending_pod_is_named_unschedulable_for_the_overview() -> None:
    doc = pod(
        [],
        phase="Pending",
        status={
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available",
                }
            ]
        },
    )
    assert cv.problem_reason(doc, cv.pod_status(doc)) == "Unschedulable"
    assert cv.pod_message(doc) == "0/3 nodes are available"


def test_env_shows_secret_references_never_values_and_masks_credential_values() -> None:
    container = {
        "env": [
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "password"}}},
            {"name": "DATABASE_URL", "value": "postgres://orders:S3cr3t-Passw0rd@db.production:5432/orders"},
            {"name": "API_TOKEN", "value": "plain-token-value"},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "envFrom": [{"secretRef": {"name": "extra"}}],
    }
    env = {e.name: e for e in cv.env_vars(container)}
    assert env["DB_PASSWORD"].source == "secretKeyRef db-credentials/password" and env["DB_PASSWORD"].value is None
    assert env["DATABASE_URL"].value == "postgres://orders:****@db.production:5432/orders"
    assert env["API_TOKEN"].value == "****"
    assert env["LOG_LEVEL"].value == "info"
    assert env["*"].source == "secretRef extra"


def test_events_sort_newest_first_whatever_timestamp_field_they_use() -> None:
    old = {"metadata": {"name": "a"}, "lastTimestamp": "2026-01-01T00:00:00Z"}
    new = {"metadata": {"name": "b"}, "eventTime": "2026-01-02T00:00:00.000000Z"}
    none = {"metadata": {"name": "c"}}
    assert [e["metadata"]["name"] for e in cv.sort_events_newest_first([old, none, new])] == ["b", "a", "c"]


def test_long_text_is_clipped_with_a_visible_marker() -> None:
    assert cv.clip("x" * 600).endswith("…[truncated]")
    assert len(cv.clip("x" * 600)) < 600
