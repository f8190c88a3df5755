"""Typed parameters and results of the built-in Kubernetes tools: the contract between the K8s access layer,
the bot (rendering, slot filling), the LLM planner and the MCP server.

Parameter names carry meaning (`namespace`, `pod`, `deployment`, `statefulset`, `container`, `node`, `cluster`):
the bot's slot filling resolves missing values by these names, for our tools and for external MCP tools alike.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# DNS-1123 label (namespaces, most names) / subdomain (pods can have dots).
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

Namespace = Annotated[str, Field(pattern=DNS1123_LABEL, max_length=63, description="Kubernetes namespace")]
ObjName = Annotated[str, Field(pattern=DNS1123_SUBDOMAIN, max_length=253)]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cluster: str | None = Field(default=None, description="kubeconfig context; default: the current one")


class DryRunnable(Params):
    dry_run: bool = Field(default=False, description="Server-side dry run (dryRun=All): preview, change nothing")


# ---------------------------------------------------------------- parameters of read tools
class NoParams(Params):
    pass


class ListPodsParams(Params):
    namespace: Namespace | None = Field(default=None, description="Namespace; omit for all namespaces")
    name_filter: str | None = Field(default=None, max_length=253, description="Substring the pod name must contain")
    label_selector: str | None = Field(default=None, max_length=1024)
    only_unhealthy: bool = Field(default=False, description="Only pods that are not Running/Ready or Succeeded")
    limit: int = Field(default=200, ge=1, le=2000)


class NamespacedParams(Params):
    namespace: Namespace | None = Field(default=None, description="Namespace; omit for all namespaces")


class PodRef(Params):
    namespace: Namespace
    pod: Annotated[ObjName, Field(description="Pod name")]


class PodLogsParams(PodRef):
    container: ObjName | None = Field(default=None, description="Container; default: the only/first container")
    tail_lines: int = Field(default=100, ge=1, le=5000)
    previous: bool = Field(default=False, description="Logs of the previous (crashed) container instance")
    since_seconds: int | None = Field(default=None, ge=1)


class EventsParams(Params):
    namespace: Namespace | None = Field(default=None, description="Namespace; omit for all namespaces")
    object_name: ObjName | None = Field(default=None, description="Only events about this object (involvedObject.name)")
    object_kind: str | None = Field(default=None, description="Kind of that object, e.g. Pod, Deployment")
    warnings_only: bool = False
    limit: int = Field(default=50, ge=1, le=500)


class DeploymentRef(Params):
    namespace: Namespace
    deployment: Annotated[ObjName, Field(description="Deployment name")]


class WorkloadHealthParams(Params):
    namespace: Namespace
    name: Annotated[str, Field(min_length=1, max_length=253, description="Workload name or name prefix/hint")]


# ---------------------------------------------------------------- parameters of mutating tools
class ScaleDeploymentParams(DryRunnable):
    namespace: Namespace
    deployment: ObjName
    replicas: int = Field(ge=0, le=1000)


class ScaleStatefulSetParams(DryRunnable):
    namespace: Namespace
    statefulset: ObjName
    replicas: int = Field(ge=0, le=1000)


class RestartDeploymentParams(DryRunnable):
    namespace: Namespace
    deployment: ObjName


class RollbackDeploymentParams(DryRunnable):
    namespace: Namespace
    deployment: ObjName
    revision: int | None = Field(default=None, ge=1, description="Target revision; default: the previous one")


class DeletePodParams(DryRunnable):
    namespace: Namespace
    pod: ObjName


class NodeParams(DryRunnable):
    node: ObjName


# ---------------------------------------------------------------- results
class Result(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ClusterInfo(BaseModel):
    name: str
    server: str = ""
    current: bool = False


class ClusterList(Result):
    items: list[ClusterInfo]


class NamespaceInfo(BaseModel):
    name: str
    phase: str = "Active"
    age_seconds: int | None = None


class NamespaceList(Result):
    cluster: str = ""
    items: list[NamespaceInfo]


class ContainerBrief(BaseModel):
    name: str
    ready: bool = False
    restarts: int = 0
    state: str = ""  # running | waiting | terminated
    reason: str = ""  # CrashLoopBackOff, OOMKilled, ImagePullBackOff ...
    last_reason: str = ""  # reason of the previous termination (OOMKilled, Error ...), when it restarted
    last_exit_code: int | None = None


class PodSummary(BaseModel):
    namespace: str
    name: str
    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    status: str  # what `kubectl get pods` shows in STATUS: Running, CrashLoopBackOff, OOMKilled, Pending ...
    ready: str  # "1/2"
    restarts: int = 0
    age_seconds: int | None = None
    node: str | None = None
    owner: str | None = None  # e.g. "ReplicaSet/cart-service-v2-7d9f8"
    workload: str | None = None  # the Deployment/StatefulSet/DaemonSet behind it, when known
    containers: list[ContainerBrief] = []
    healthy: bool = True
    message: str = ""


class PodList(Result):
    namespace: str | None = None  # None = all namespaces
    items: list[PodSummary]
    total: int  # matching pods before truncation
    truncated: bool = False


class LogResult(Result):
    namespace: str
    pod: str
    container: str
    containers: list[str] = []  # all containers of the pod, for "other container" buttons
    previous: bool = False
    lines: list[str]
    truncated: bool = False  # more lines exist than returned


class EventInfo(BaseModel):
    namespace: str = ""
    type: str = "Normal"  # Normal | Warning
    reason: str = ""
    object: str = ""  # "Pod/cart-service-v2-abc"
    message: str = ""
    count: int = 1
    last_seen_seconds: int | None = None  # age of the last occurrence


class EventList(Result):
    items: list[EventInfo]
    total: int
    truncated: bool = False


class EnvVarInfo(BaseModel):
    name: str
    value: str | None = None  # plain values (already masked if they look like credentials)
    source: str | None = None  # "secretKeyRef db-secret/password", "configMapKeyRef ..." - never the value


class ContainerDetail(BaseModel):
    name: str
    image: str
    ready: bool = False
    restarts: int = 0
    state: str = ""
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    last_state: str = ""  # e.g. "terminated: OOMKilled (exit 137)"
    env: list[EnvVarInfo] = []
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}


class Condition(BaseModel):
    type: str
    status: str
    reason: str = ""
    message: str = ""


class PodDetail(Result):
    namespace: str
    name: str
    phase: str
    status: str
    node: str | None = None
    pod_ip: str | None = None
    start_seconds_ago: int | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}  # credential-looking values masked
    owner: str | None = None
    containers: list[ContainerDetail] = []
    conditions: list[Condition] = []
    events: list[EventInfo] = []


class DeploymentInfo(BaseModel):
    namespace: str
    name: str
    desired: int
    ready: int = 0
    updated: int = 0
    available: int = 0
    images: list[str] = []
    revision: int | None = None
    age_seconds: int | None = None
    healthy: bool = True


class DeploymentList(Result):
    items: list[DeploymentInfo]
    total: int
    truncated: bool = False


class ServiceInfo(BaseModel):
    namespace: str
    name: str
    type: str = "ClusterIP"
    cluster_ip: str | None = None
    ports: list[str] = []  # "80/TCP->8080"
    selector: dict[str, str] = {}


class ServiceList(Result):
    items: list[ServiceInfo]
    total: int
    truncated: bool = False


class NodeInfo(BaseModel):
    name: str
    ready: bool
    unschedulable: bool = False
    roles: list[str] = []
    version: str = ""
    cpu: str = ""
    memory: str = ""
    pods: int | None = None


class NodeList(Result):
    items: list[NodeInfo]


class UnhealthyPod(BaseModel):
    namespace: str
    name: str
    reason: str
    restarts: int = 0
    message: str = ""


class LaggingDeployment(BaseModel):
    namespace: str
    name: str
    ready: int
    desired: int


class ClusterOverview(Result):
    cluster: str = ""
    version: str = ""
    nodes_total: int
    nodes_ready: int
    namespaces: list[str]
    pods_total: int
    pods_by_phase: dict[str, int]
    unhealthy_pods: list[UnhealthyPod]
    deployments_total: int = 0
    deployments_unavailable: list[LaggingDeployment]
    truncated: bool = False  # more unhealthy pods / lagging deployments exist than listed


class Finding(BaseModel):
    """One diagnosis (k8sgpt-style analyzer output)."""

    kind: str  # Pod, Deployment, Node ...
    namespace: str = ""
    name: str
    severity: Literal["info", "warning", "critical"] = "warning"
    problem: str  # short: "CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "Unschedulable"
    detail: str = ""  # evidence: last termination state, event message
    detail_zh: str = ""  # the same in Chinese when it is our sentence (an event's own message stays as it is)
    advice_en: str = ""
    advice_zh: str = ""


class RolloutInfo(BaseModel):
    """One revision of a deployment (its ReplicaSet): lets a diagnosis tie a failure to the rollout before it."""

    deployment: str
    revision: int
    replicaset: str
    images: list[str] = []
    age_seconds: int | None = None  # since the ReplicaSet was created (a rollback re-uses an old one)
    change_cause: str = ""  # kubernetes.io/change-cause, when the deployer set it
    replicas: int = 0


class WorkloadHealth(Result):
    namespace: str
    name: str  # the hint as given
    deployments: list[DeploymentInfo]
    pods: list[PodSummary]
    events: list[EventInfo]
    findings: list[Finding]
    logs: dict[str, list[str]] = {}  # pod/container -> tail of logs of failing containers (previous when crashed)
    rollouts: list[RolloutInfo] = []  # the deployments' newest revisions, newest first
    healthy: bool
    truncated: bool = False  # more pods / events / findings / failing containers exist than listed


class ChangePreview(Result):
    """What a mutating tool did (or, with dry_run, would do)."""

    dry_run: bool
    action: str  # "scale", "restart", "rollback", "delete", "cordon", "uncordon"
    kind: str  # Deployment, StatefulSet, Pod, Node
    namespace: str | None = None
    name: str
    before: dict[str, str] = {}  # e.g. {"replicas": "2"}
    after: dict[str, str] = {}  # e.g. {"replicas": "4"}
    summary: str = ""
