"""The evidence a diagnosis ranks: the cluster's view of the workload (the `workload_health` tool: findings,
events, previous-container logs, rollout history) and Prometheus series (restarts over time, memory against the
limit, CPU throttling, request and error rates), read concurrently.

Either side may be missing or failing: what could not be read is recorded as such, never as healthy. Everything
here is data gathering; the ranking is pure (bot.alerts.causes).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.alerts.incidents import Incident
from bot.core.i18n import Lang
from bot.tooling.types import ToolCall, ToolOutcome
from tools.k8s.models import WorkloadHealth
from tools.prom import PromClient, QueryResult

log = logging.getLogger(__name__)

# DNS-1123: only such names reach PromQL or a tool call (also keeps label values from injecting into PromQL)
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# the same derivation as the shipped rules' label_replace: pod "orders-7d9f8-abcde" belongs to deployment "orders"
_POD_OF = re.compile(r"^(.+)-[a-z0-9]+-[a-z0-9]+$")
ROLLOUT_WINDOW = 3600.0  # a rollout up to an hour before the alert started is a suspect
ERROR_WINDOW = 1800  # seconds of error-rate history read around a rollout

# A tool read as the clicking user (policy applies): the cluster side of the evidence.
ReadTool = Callable[[ToolCall, Lang], Awaitable[ToolOutcome]]


def _clean(value: str | None) -> str:
    value = (value or "").strip()
    return value if len(value) <= 253 and NAME.match(value) else ""


def incident_labels(inc: Incident) -> dict[str, str]:
    """The alert's labels (the first alert's, then the group's common ones), plus the deployment derived from a
    pod or a service name when the rule did not set one: runbooks bind their parameters from these."""
    first = next(iter(inc.alerts.values())).labels if inc.alerts else {}
    labels = {**first, **inc.common_labels}
    if not labels.get("deployment"):
        m = _POD_OF.match(labels.get("pod", ""))
        derived = m.group(1) if m else labels.get("service", "")
        if _clean(derived):
            labels["deployment"] = derived
    return labels


@dataclass(frozen=True, slots=True)
class Target:
    namespace: str
    deployment: str = ""
    pod: str = ""
    container: str = ""
    service: str = ""

    @classmethod
    def of(cls, labels: dict[str, str]) -> Target:
        return cls(
            namespace=_clean(labels.get("namespace")),
            deployment=_clean(labels.get("deployment")),
            pod=_clean(labels.get("pod")),
            container=_clean(labels.get("container")),
            service=_clean(labels.get("service")),
        )

    @property
    def name(self) -> str:
        return self.deployment or self.service or self.pod

    def pods(self) -> str:
        """A PromQL selector of the workload's pods (a deployment's are `<name>-<rs hash>-<suffix>`)."""
        ns = f'namespace="{self.namespace}",' if self.namespace else ""
        if self.deployment:
            return f'{ns}pod=~"{self.deployment}-[a-z0-9]+-[a-z0-9]+"'
        return f'{ns}pod="{self.pod}"'

    def svc(self) -> str:
        ns = f'namespace="{self.namespace}",' if self.namespace else ""
        return f'{ns}service="{self.service or self.deployment}"'


def instant_queries(t: Target) -> dict[str, str]:
    p, s = t.pods(), t.svc()
    return {
        "restarts_1h": f"sum(increase(kube_pod_container_status_restarts_total{{{p}}}[1h]))",
        "restarts": f"sum(kube_pod_container_status_restarts_total{{{p}}})",
        "oom": f'sum(kube_pod_container_status_last_terminated_reason{{{p},reason="OOMKilled"}})',
        "mem_ratio": f"max(container_memory_working_set_bytes{{{p}}} / on(namespace,pod,container) group_left() "
        f'max by (namespace,pod,container) (kube_pod_container_resource_limits{{{p},resource="memory"}}))',
        "mem_bytes": f"max(container_memory_working_set_bytes{{{p}}})",
        "mem_limit": f'max(kube_pod_container_resource_limits{{{p},resource="memory"}})',
        "cpu": f"sum(rate(container_cpu_usage_seconds_total{{{p}}}[5m]))",
        "throttling": f"sum(rate(container_cpu_cfs_throttled_periods_total{{{p}}}[5m])) / "
        f"sum(rate(container_cpu_cfs_periods_total{{{p}}}[5m]))",
        "req_rate": f"sum(rate(http_requests_total{{{s}}}[5m]))",
        "err_ratio": f'sum(rate(http_requests_total{{{s},code=~"5.."}}[5m])) / sum(rate(http_requests_total{{{s}}}[5m]))',
    }


def error_ratio_range(t: Target) -> str:
    s = t.svc()
    return f'sum(rate(http_requests_total{{{s},code=~"5.."}}[1m])) / sum(rate(http_requests_total{{{s}}}[1m]))'


@dataclass(slots=True)
class MetricFacts:
    """What Prometheus said. `values[k]` is None for "no data"; `failed` lists the queries that errored."""

    values: dict[str, float | None] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    error: str = ""
    restarts_series: list[float] = field(default_factory=list)
    error_series: list[tuple[float, float]] = field(default_factory=list)  # (unix time, 5xx ratio)

    @property
    def reachable(self) -> bool:
        return bool(self.values) and len(self.failed) < len(self.values)

    def get(self, key: str) -> float | None:
        return self.values.get(key)


@dataclass(slots=True)
class ClusterFacts:
    health: WorkloadHealth | None = None
    error: str = ""


@dataclass(slots=True)
class Evidence:
    target: Target
    labels: dict[str, str]
    alertname: str
    starts_at: float | None  # the alert's startsAt (unix), when Alertmanager gave it
    now: float
    metrics: MetricFacts | None  # None: no Prometheus configured
    cluster: ClusterFacts | None  # None: no cluster reader (no tools)


async def collect_metrics(prom: PromClient, t: Target, now: float) -> MetricFacts:
    exprs = instant_queries(t)
    results: list[QueryResult] = await asyncio.gather(*(prom.query(e) for e in exprs.values()))
    facts = MetricFacts()
    for key, res in zip(exprs, results, strict=True):
        value = res.first if res.ok else None
        facts.values[key] = None if value is None or math.isnan(value) else value  # NaN: nothing to divide by
        if not res.ok:
            facts.failed.add(key)
            facts.error = facts.error or res.error
    if not facts.reachable:
        return facts
    (restarts, err1), (errors, err2) = await asyncio.gather(
        prom.query_range(f"sum(kube_pod_container_status_restarts_total{{{t.pods()}}})", seconds=3600, step=150),
        prom.query_range(error_ratio_range(t), seconds=ERROR_WINDOW, step=5, end=now),
    )
    if restarts and not err1:
        facts.restarts_series = restarts[0].values
    if errors and not err2:
        facts.error_series = [(t, v) for t, v in zip(errors[0].times, errors[0].values, strict=False) if v == v]
    return facts


async def collect_cluster(read: ReadTool, t: Target, lang: Lang) -> ClusterFacts:
    if not t.namespace or not t.name:
        return ClusterFacts(error="the alert names no namespace/workload")
    out = await read(ToolCall("workload_health", {"namespace": t.namespace, "name": t.name}), lang)
    if not out.ok or out.data is None:
        return ClusterFacts(error=(out.error or out.text or "no data")[:300])
    try:
        return ClusterFacts(health=WorkloadHealth.model_validate(out.data))
    except ValidationError as exc:
        return ClusterFacts(error=f"unexpected workload_health answer: {exc.error_count()} problems")


async def collect(
    inc: Incident, *, prom: PromClient | None, read: ReadTool | None, lang: Lang, clock: Callable[[], float] = time.time
) -> Evidence:
    labels = incident_labels(inc)
    target = Target.of(labels)
    now = clock()
    starts = [a.starts_at for a in inc.alerts.values() if a.starts_at]
    metrics_task: Awaitable[MetricFacts | None] = _none() if prom is None else collect_metrics(prom, target, now)
    cluster_task: Awaitable[ClusterFacts | None] = _none() if read is None else collect_cluster(read, target, lang)
    metrics, cluster = await asyncio.gather(metrics_task, cluster_task, return_exceptions=True)
    if isinstance(metrics, BaseException):  # a bug here must not cost the cluster half of the answer
        log.warning("diagnosis: metrics failed: %r", metrics)
        metrics = MetricFacts(error=type(metrics).__name__, values={"restarts": None}, failed={"restarts"})
    if isinstance(cluster, BaseException):
        log.warning("diagnosis: cluster read failed: %r", cluster)
        cluster = ClusterFacts(error=type(cluster).__name__)
    return Evidence(
        target=target,
        labels=labels,
        alertname=labels.get("alertname", ""),
        starts_at=min(starts) if starts else None,
        now=now,
        metrics=metrics,
        cluster=cluster,
    )


async def _none() -> Any:
    return None
