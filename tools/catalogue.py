"""Every built-in tool, with its typed parameters, result, risk and a description for LLMs and MCP clients.

`run_tool` is the one entry point: validate the arguments (friendly errors), pick the cluster, run, redact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from tools.k8s import reads, remedies, writes
from tools.k8s.models import (
    ChangePreview,
    ClusterList,
    ClusterOverview,
    DeletePodParams,
    DeploymentList,
    EventList,
    EventsParams,
    ListPodsParams,
    LogResult,
    NamespacedParams,
    NamespaceList,
    NodeList,
    NodeParams,
    NoParams,
    PodDetail,
    PodList,
    PodLogsParams,
    PodRef,
    RestartDeploymentParams,
    RollbackDeploymentParams,
    ScaleDeploymentParams,
    ScaleStatefulSetParams,
    ServiceList,
    WorkloadHealth,
    WorkloadHealthParams,
)
from tools.redact import redact_json, redact_model
from tools.spec import ErrorCode, Risk, ToolFailure, ToolSpec

if TYPE_CHECKING:  # the kubernetes client loads when a tool runs, not when the catalogue is listed
    from tools.k8s.client import KubeClients

_DRY = " Set dry_run=true to preview the change (server-side dry run) without applying it."

_SPECS: list[ToolSpec[Any, Any]] = [
    ToolSpec(
        name="list_clusters",
        title_en="Clusters",
        title_zh="集群列表",
        description="List the Kubernetes clusters (kubeconfig contexts) this bot can reach and which one is the default. Use when the user asks which clusters exist or names a cluster you do not know.",
        params=NoParams,
        result=ClusterList,
        run=reads.list_clusters,
        verb="list",
        resource="clusters",
    ),
    ToolSpec(
        name="cluster_overview",
        title_en="Cluster overview",
        title_zh="集群概览",
        description="One-call health summary of a cluster: version, nodes ready, namespaces, pods by phase, unhealthy pods with their reason (CrashLoopBackOff, ImagePullBackOff, OOMKilled, Unschedulable ...), deployments below their desired replicas. Use first for 'how is the cluster', 'anything broken?'.",
        params=NoParams,
        result=ClusterOverview,
        run=reads.cluster_overview,
        verb="list",
        resource="pods",
    ),
    ToolSpec(
        name="list_namespaces",
        title_en="Namespaces",
        title_zh="命名空间",
        description="List the namespaces of a cluster. Use to find the right namespace name before other calls.",
        params=NoParams,
        result=NamespaceList,
        run=reads.list_namespaces,
        verb="list",
        resource="namespaces",
    ),
    ToolSpec(
        name="list_pods",
        title_en="Pods",
        title_zh="Pod 列表",
        description="List pods with the STATUS kubectl shows (Running, CrashLoopBackOff, ImagePullBackOff, OOMKilled, Pending ...), ready count, restarts, node and owning workload. Filter by namespace (omit for all), name substring, label selector, or only_unhealthy=true to find broken pods.",
        params=ListPodsParams,
        result=PodList,
        run=reads.list_pods,
        verb="list",
        resource="pods",
    ),
    ToolSpec(
        name="pod_logs",
        title_en="Pod logs",
        title_zh="Pod 日志",
        description="Read the last lines of a pod container's logs (credentials masked). Default container: the only/first one; the result lists all containers. Use previous=true for the logs of the crashed previous instance (CrashLoopBackOff, OOMKilled).",
        params=PodLogsParams,
        result=LogResult,
        run=reads.pod_logs,
        verb="logs",
        resource="pods/log",
    ),
    ToolSpec(
        name="describe_pod",
        title_en="Describe pod",
        title_zh="Pod 详情",
        description="Details of one pod, like `kubectl describe pod`: containers (image, state, last termination, restarts, env with secret references shown but never resolved, resources), conditions, labels, annotations, recent events. Use to explain why a specific pod is unhealthy.",
        params=PodRef,
        result=PodDetail,
        run=reads.describe_pod,
        verb="get",
        resource="pods",
    ),
    ToolSpec(
        name="list_events",
        title_en="Events",
        title_zh="事件",
        description="Kubernetes events, newest first: scheduling failures, image pull errors, back-offs, kills. Filter by namespace, object name/kind, warnings_only=true.",
        params=EventsParams,
        result=EventList,
        run=reads.list_events,
        verb="list",
        resource="events",
    ),
    ToolSpec(
        name="list_deployments",
        title_en="Deployments",
        title_zh="Deployment 列表",
        description="List deployments with desired/ready/updated/available replicas, images and current revision. Namespace optional (all namespaces when omitted).",
        params=NamespacedParams,
        result=DeploymentList,
        run=reads.list_deployments,
        verb="list",
        resource="deployments",
    ),
    ToolSpec(
        name="list_services",
        title_en="Services",
        title_zh="服务列表",
        description="List services with type, cluster IP, ports and selector. Namespace optional.",
        params=NamespacedParams,
        result=ServiceList,
        run=reads.list_services,
        verb="list",
        resource="services",
    ),
    ToolSpec(
        name="list_nodes",
        title_en="Nodes",
        title_zh="节点列表",
        description="List nodes with Ready state, cordon (unschedulable) flag, roles, kubelet version and capacity.",
        params=NoParams,
        result=NodeList,
        run=reads.list_nodes,
        verb="list",
        resource="nodes",
    ),
    ToolSpec(
        name="workload_health",
        title_en="Workload diagnosis",
        title_zh="工作负载诊断",
        description="Diagnose a workload by name or name hint in a namespace (e.g. 'cart' or 'payment-api'): its deployments, pods, related events, findings with advice (CrashLoopBackOff, OOMKilled, ImagePullBackOff, Unschedulable, unavailable), and the tail of the failing containers' logs (previous instance when crashed). Use for 'why is X broken', 'check X'.",
        params=WorkloadHealthParams,
        result=WorkloadHealth,
        run=reads.workload_health,
        verb="get",
        resource="deployments",
    ),
    # ------------------------------------------------------------ mutations
    ToolSpec(
        name="scale_deployment",
        title_en="Scale deployment",
        title_zh="扩缩容 Deployment",
        description="Change the number of replicas of a deployment (0-1000)." + _DRY,
        params=ScaleDeploymentParams,
        result=ChangePreview,
        run=writes.scale_deployment,
        mutates=True,
        risk=Risk.MEDIUM,
        verb="scale",
        resource="deployments",
    ),
    ToolSpec(
        name="scale_statefulset",
        title_en="Scale statefulset",
        title_zh="扩缩容 StatefulSet",
        description="Change the number of replicas of a statefulset (0-1000); pods are added/removed from the highest ordinal."
        + _DRY,
        params=ScaleStatefulSetParams,
        result=ChangePreview,
        run=writes.scale_statefulset,
        mutates=True,
        risk=Risk.MEDIUM,
        verb="scale",
        resource="statefulsets",
    ),
    ToolSpec(
        name="restart_deployment",
        title_en="Restart deployment",
        title_zh="重启 Deployment",
        description="Rolling restart of a deployment's pods (like `kubectl rollout restart`): new pods replace the old ones gradually. Use when pods are stuck or need to reload config."
        + _DRY,
        params=RestartDeploymentParams,
        result=ChangePreview,
        run=writes.restart_deployment,
        mutates=True,
        risk=Risk.MEDIUM,
        verb="restart",
        resource="deployments",
        idempotent=False,
    ),
    ToolSpec(
        name="rollback_deployment",
        title_en="Roll back deployment",
        title_zh="回滚 Deployment",
        description="Roll a deployment back to a previous revision from its ReplicaSet history (like `kubectl rollout undo`); default: the revision before the current one. Use when the latest rollout broke the workload (bad image, crash)."
        + _DRY,
        params=RollbackDeploymentParams,
        result=ChangePreview,
        run=writes.rollback_deployment,
        mutates=True,
        risk=Risk.MEDIUM,
        verb="rollback",
        resource="deployments",
        idempotent=False,
    ),
    ToolSpec(
        name="delete_pod",
        title_en="Delete pod",
        title_zh="删除 Pod",
        description="Delete one pod. A pod owned by a controller (Deployment, StatefulSet ...) is recreated; an unowned pod is gone for good. Use to unstick a single pod."
        + _DRY,
        params=DeletePodParams,
        result=ChangePreview,
        run=writes.delete_pod,
        mutates=True,
        risk=Risk.MEDIUM,
        verb="delete",
        resource="pods",
        destructive=True,
    ),
    ToolSpec(
        name="cordon_node",
        title_en="Cordon node",
        title_zh="封锁节点",
        description="Mark a node unschedulable (no new pods land there; running pods stay). Use before maintenance or when a node misbehaves."
        + _DRY,
        params=NodeParams,
        result=ChangePreview,
        run=writes.cordon_node,
        mutates=True,
        risk=Risk.LOW,
        verb="cordon",
        resource="nodes",
    ),
    ToolSpec(
        name="uncordon_node",
        title_en="Uncordon node",
        title_zh="解除节点封锁",
        description="Mark a node schedulable again after maintenance." + _DRY,
        params=NodeParams,
        result=ChangePreview,
        run=writes.uncordon_node,
        mutates=True,
        risk=Risk.LOW,
        verb="uncordon",
        resource="nodes",
    ),
    ToolSpec(
        name="set_container_resources",
        title_en="Set container resources",
        title_zh="调整容器资源",
        description="Set memory/CPU requests or limits of one container of a deployment (a rolling update follows). "
        "Use to raise the memory limit of an OOMKilled container." + _DRY,
        params=remedies.SetContainerResourcesParams,
        result=ChangePreview,
        run=remedies.set_container_resources,
        mutates=True,
        risk=Risk.MEDIUM,
        verb="update",
        resource="deployments",
    ),
]

CATALOGUE: dict[str, ToolSpec[Any, Any]] = {s.name: s for s in _SPECS}

READ_TOOLS = tuple(n for n, s in CATALOGUE.items() if not s.mutates)
MUTATING_TOOLS = tuple(n for n, s in CATALOGUE.items() if s.mutates)


def _field_phrase(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(x) for x in loc) or "arguments"


def explain_validation(name: str, exc: ValidationError) -> str:
    """A readable sentence per problem, e.g. "namespace 'Dev_1' is not a valid name (lowercase letters, digits, '-')"."""
    parts = []
    for err in exc.errors()[:5]:
        field = _field_phrase(tuple(err.get("loc", ())))
        kind = err.get("type", "")
        value = err.get("input")
        if kind == "string_pattern_mismatch":
            parts.append(
                f"{field} '{value}' is not a valid name (lowercase letters, digits, '-', starting and ending with a letter or digit)"
            )
        elif kind == "missing":
            parts.append(f"{field} is required")
        elif kind == "extra_forbidden":
            parts.append(f"unknown argument '{field}'")
        elif kind == "string_too_long":
            parts.append(f"{field} is too long")
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            parts.append(f"{field} {value!r} is out of range ({err.get('msg', '')})")
        else:
            parts.append(f"{field}: {err.get('msg', 'invalid value')} (got {value!r})")
    more = len(exc.errors()) - len(parts)
    tail = f" (+{more} more)" if more > 0 else ""
    return f"invalid arguments for {name}: " + "; ".join(parts) + tail


def parse_args(name: str, args: dict[str, Any]) -> BaseModel:
    spec = CATALOGUE.get(name)
    if spec is None:
        raise ToolFailure(ErrorCode.NOT_FOUND, f"unknown tool '{name}'; tools: {', '.join(CATALOGUE)}")
    try:
        # Strict: a JSON `true` or "3" is not a replica count (lax coercion would turn true into 1 replica).
        return spec.params.model_validate(args or {}, strict=True)
    except ValidationError as exc:
        raise ToolFailure(ErrorCode.INVALID, explain_validation(name, exc), upstream=str(exc)) from None


async def _run(
    kube: KubeClients,
    name: str,
    args: dict[str, Any],
    impersonate_user: str | None,
    impersonate_groups: Sequence[str],
) -> BaseModel:
    spec = CATALOGUE.get(name)
    params = parse_args(name, args)
    assert spec is not None  # parse_args raised otherwise
    if name == "list_clusters":
        # Read from the kubeconfig alone: listing must work even when a context's credentials are broken.
        return ClusterList(items=kube.list_clusters())
    cluster = getattr(params, "cluster", None)
    ctx = await kube.context(cluster, impersonate_user=impersonate_user, impersonate_groups=impersonate_groups)
    result: BaseModel = await spec.run(ctx, params)
    return result


async def run_tool(
    kube: KubeClients,
    name: str,
    args: dict[str, Any],
    *,
    impersonate_user: str | None = None,
    impersonate_groups: Sequence[str] = (),
) -> BaseModel:
    """Validate, run on the cluster named by `args['cluster']` (default context otherwise), redact the result.

    Raises `ToolFailure` for every expected failure (bad arguments, not found, forbidden, cluster down ...).
    """
    return redact_model(await _run(kube, name, args, impersonate_user, impersonate_groups))


async def run_tool_json(
    kube: KubeClients,
    name: str,
    args: dict[str, Any],
    *,
    impersonate_user: str | None = None,
    impersonate_groups: Sequence[str] = (),
) -> dict[str, Any]:
    """`run_tool` for the bot: the redacted result as JSON data, dumped once (no copy validated again)."""
    return redact_json(await _run(kube, name, args, impersonate_user, impersonate_groups))
