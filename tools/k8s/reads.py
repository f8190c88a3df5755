"""The read tools: fetch through a `KubeContext`, shape with `convert`, bound every list."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tools.diagnose import DiagnosisInput, diagnose
from tools.k8s import convert as cv
from tools.k8s.models import (
    ClusterInfo,
    ClusterList,
    ClusterOverview,
    DeploymentInfo,
    DeploymentList,
    EventList,
    EventsParams,
    LaggingDeployment,
    ListPodsParams,
    LogResult,
    NamespacedParams,
    NamespaceInfo,
    NamespaceList,
    NodeList,
    NoParams,
    PodDetail,
    PodList,
    PodLogsParams,
    PodRef,
    PodSummary,
    RolloutInfo,
    ServiceList,
    UnhealthyPod,
    WorkloadHealth,
    WorkloadHealthParams,
)
from tools.spec import ErrorCode, ToolFailure

if TYPE_CHECKING:  # the kubernetes client loads only when a tool runs (listing the tools needs none of it)
    from tools.k8s.client import KubeContext

Obj = dict[str, Any]

PAGE = 1000  # items per list request; big clusters are read in pages
MAX_ITEMS = 2000  # hard cap on items returned by any list tool
MAX_LINE = 2000  # characters of one log line
MAX_LOG_CHARS = 200_000  # characters of one log answer (newest lines kept)
MAX_OVERVIEW = 100  # unhealthy pods / lagging deployments listed by the overview
WORKLOAD_LOG_LINES = 30
WORKLOAD_MAX_LOG_CONTAINERS = 4


async def list_all(ctx: KubeContext, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> list[Obj]:
    """Every item of a list call, page by page (limit/continue)."""
    items: list[Obj] = []
    token: str | None = None
    while True:
        extra = {"_continue": token} if token else {}
        doc = await ctx.read_json(fn, *args, limit=PAGE, **kwargs, **extra)
        items.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
        token = (doc.get("metadata") or {}).get("continue") or None
        if not token:
            return items


async def ensure_namespace(ctx: KubeContext, namespace: str) -> None:
    """Listing in a missing namespace returns an empty list: say clearly that the namespace does not exist."""
    await ctx.read_json(ctx.core.read_namespace_without_preload_content, namespace)


async def _namespaced(
    ctx: KubeContext,
    namespace: str | None,
    namespaced_fn: Callable[..., Awaitable[Any]],
    all_fn: Callable[..., Awaitable[Any]],
    **kwargs: Any,
) -> list[Obj]:
    if namespace:
        items = await list_all(ctx, namespaced_fn, namespace, **kwargs)
        if not items:
            await ensure_namespace(ctx, namespace)
        return items
    return await list_all(ctx, all_fn, **kwargs)


# ---------------------------------------------------------------- clusters, namespaces, overview
async def list_clusters(ctx: KubeContext, _p: NoParams) -> ClusterList:
    if ctx.owner is None:
        return ClusterList(items=[ClusterInfo(name=ctx.cluster, current=True)])
    return ClusterList(items=ctx.owner.list_clusters())


async def list_namespaces(ctx: KubeContext, _p: NoParams) -> NamespaceList:
    items = await list_all(ctx, ctx.core.list_namespace_without_preload_content)
    now = datetime.now(UTC)
    out = [
        NamespaceInfo(
            name=str(cv.meta(n).get("name") or ""),
            phase=str((n.get("status") or {}).get("phase") or "Active"),
            age_seconds=cv.age_seconds(cv.meta(n).get("creationTimestamp"), now),
        )
        for n in items
    ]
    return NamespaceList(cluster=ctx.cluster, items=sorted(out, key=lambda n: n.name)[:MAX_ITEMS])


async def cluster_overview(ctx: KubeContext, _p: NoParams) -> ClusterOverview:
    version_doc, nodes, namespaces, pods, deployments = await asyncio.gather(
        ctx.read_json(ctx.version.get_code_without_preload_content),
        list_all(ctx, ctx.core.list_node_without_preload_content),
        list_all(ctx, ctx.core.list_namespace_without_preload_content),
        list_all(ctx, ctx.core.list_pod_for_all_namespaces_without_preload_content),
        list_all(ctx, ctx.apps.list_deployment_for_all_namespaces_without_preload_content),
    )
    node_infos = [cv.node_info(n) for n in nodes]
    by_phase: dict[str, int] = {}
    unhealthy: list[UnhealthyPod] = []
    for p in pods:
        phase = str((p.get("status") or {}).get("phase") or "Unknown")
        by_phase[phase] = by_phase.get(phase, 0) + 1
        status = cv.pod_status(p)
        if not cv.pod_healthy(p, status):
            m = cv.meta(p)
            restarts = sum(
                int(cs.get("restartCount") or 0) for cs in (p.get("status") or {}).get("containerStatuses") or []
            )
            unhealthy.append(
                UnhealthyPod(
                    namespace=str(m.get("namespace") or ""),
                    name=str(m.get("name") or ""),
                    reason=cv.problem_reason(p, status),
                    restarts=restarts,
                    message=cv.pod_message(p),
                )
            )
    lagging = []
    for d in deployments:
        info = cv.deployment_info(d)
        if not info.healthy:
            lagging.append(
                LaggingDeployment(namespace=info.namespace, name=info.name, ready=info.ready, desired=info.desired)
            )
    unhealthy.sort(key=lambda u: (u.namespace, u.name))
    lagging.sort(key=lambda d: (d.namespace, d.name))
    return ClusterOverview(
        cluster=ctx.cluster,
        version=str(version_doc.get("gitVersion") or ""),
        nodes_total=len(node_infos),
        nodes_ready=sum(1 for n in node_infos if n.ready),
        namespaces=sorted(str(cv.meta(n).get("name") or "") for n in namespaces),
        pods_total=len(pods),
        pods_by_phase=dict(sorted(by_phase.items())),
        unhealthy_pods=unhealthy[:MAX_OVERVIEW],
        deployments_total=len(deployments),
        deployments_unavailable=lagging[:MAX_OVERVIEW],
        truncated=len(unhealthy) > MAX_OVERVIEW or len(lagging) > MAX_OVERVIEW,
    )


# ---------------------------------------------------------------- pods
async def list_pods(ctx: KubeContext, p: ListPodsParams) -> PodList:
    kwargs: dict[str, Any] = {}
    if p.label_selector:
        kwargs["label_selector"] = p.label_selector
    items = await _namespaced(
        ctx,
        p.namespace,
        ctx.core.list_namespaced_pod_without_preload_content,
        ctx.core.list_pod_for_all_namespaces_without_preload_content,
        **kwargs,
    )
    # Filter and sort on the raw objects (cheap), build full summaries only for what is returned: on 10,000 pods
    # the summaries would otherwise cost more than the API call.
    chosen: list[Obj] = []
    for pod in items:
        m = cv.meta(pod)
        if p.name_filter and p.name_filter not in str(m.get("name") or ""):
            continue
        if p.only_unhealthy and cv.pod_healthy(pod):
            continue
        chosen.append(pod)
    chosen.sort(key=lambda o: (str(cv.meta(o).get("namespace") or ""), str(cv.meta(o).get("name") or "")))
    now = datetime.now(UTC)
    return PodList(
        namespace=p.namespace,
        items=[cv.pod_summary(pod, now) for pod in chosen[: p.limit]],
        total=len(chosen),
        truncated=len(chosen) > p.limit,
    )


async def _read_pod(ctx: KubeContext, namespace: str, pod: str) -> Obj:
    try:
        return await ctx.read_json(ctx.core.read_namespaced_pod_without_preload_content, pod, namespace)
    except ToolFailure as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            await ensure_namespace(ctx, namespace)  # raises "namespace 'x' not found" when that is the cause
            raise ToolFailure(
                ErrorCode.NOT_FOUND, f"pod '{pod}' not found in namespace '{namespace}'", upstream=exc.upstream
            ) from exc
        raise


def _container_names(pod: Obj) -> list[str]:
    return [str(c.get("name") or "") for c in (pod.get("spec") or {}).get("containers") or []]


def _waiting_reason(pod: Obj, container: str) -> str | None:
    """The waiting reason of a container that never ran (None when it is running or has run)."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting is not None and not cs.get("restartCount"):
                return str(waiting.get("reason") or "")
    return None


def _clip_lines(text: str) -> list[str]:
    # Not masked here: `run_tool` redacts every result once, line by line (a key over several lines too).
    return [ln if len(ln) <= MAX_LINE else ln[:MAX_LINE] + cv.TRUNC for ln in text.splitlines()]


async def _log_lines(
    ctx: KubeContext,
    namespace: str,
    pod: str,
    container: str,
    tail: int,
    previous: bool,
    since_seconds: int | None = None,
) -> tuple[list[str], bool]:
    kwargs: dict[str, Any] = {"container": container, "tail_lines": tail + 1}
    if previous:
        kwargs["previous"] = True
    if since_seconds:
        kwargs["since_seconds"] = since_seconds
    text = await ctx.read_text(ctx.core.read_namespaced_pod_log_without_preload_content, pod, namespace, **kwargs)
    lines = _clip_lines(text)
    # One line more than asked tells whether older lines exist.
    truncated = len(lines) > tail
    lines = lines[-tail:]
    # And a character budget keeps a few thousand very long lines from flooding a card or an LLM context.
    used, keep = 0, len(lines)
    for i in range(len(lines) - 1, -1, -1):
        used += len(lines[i]) + 1
        if used > MAX_LOG_CHARS:
            keep = len(lines) - 1 - i
            truncated = True
            break
    return lines[len(lines) - keep :], truncated


async def pod_logs(ctx: KubeContext, p: PodLogsParams) -> LogResult:
    if p.container:
        # The caller knows the container (e.g. from the pod list it just showed): one request, the log itself.
        # Any failure falls through to the full path below, which reads the pod to explain what went wrong.
        try:
            lines, truncated = await _log_lines(
                ctx, p.namespace, p.pod, p.container, p.tail_lines, p.previous, p.since_seconds
            )
        except ToolFailure:
            pass
        else:
            return LogResult(
                namespace=p.namespace,
                pod=p.pod,
                container=p.container,
                containers=[p.container],
                previous=p.previous,
                lines=lines,
                truncated=truncated,
            )
    pod = await _read_pod(ctx, p.namespace, p.pod)
    names = _container_names(pod)
    container = p.container or (names[0] if names else "")
    if p.container and p.container not in names:
        raise ToolFailure(
            ErrorCode.NOT_FOUND,
            f"container '{p.container}' not found in pod '{p.pod}'; containers: {', '.join(names)}",
        )
    try:
        lines, truncated = await _log_lines(
            ctx, p.namespace, p.pod, container, p.tail_lines, p.previous, p.since_seconds
        )
    except ToolFailure as exc:
        if p.previous and exc.code in (ErrorCode.INVALID, ErrorCode.NOT_FOUND):
            raise ToolFailure(
                exc.code,
                f"no previous logs for container '{container}' of pod '{p.pod}' (it has not restarted?): {exc.upstream}",
                upstream=exc.upstream,
            ) from exc
        waiting = _waiting_reason(pod, container)
        if exc.code == ErrorCode.INVALID and waiting is not None:
            raise ToolFailure(
                exc.code,
                f"container '{container}' of pod '{p.pod}' has not started ({waiting or 'waiting'}): no logs yet;"
                " its events say why (describe_pod)",
                upstream=exc.upstream,
            ) from exc
        raise
    return LogResult(
        namespace=p.namespace,
        pod=p.pod,
        container=container,
        containers=names,
        previous=p.previous,
        lines=lines,
        truncated=truncated,
    )


async def _events_for(ctx: KubeContext, namespace: str, name: str, kind: str | None = None) -> list[Obj]:
    selector = f"involvedObject.name={name}"
    if kind:
        selector += f",involvedObject.kind={kind}"
    items = await list_all(
        ctx, ctx.core.list_namespaced_event_without_preload_content, namespace, field_selector=selector
    )
    return cv.sort_events_newest_first(items)


async def describe_pod(ctx: KubeContext, p: PodRef) -> PodDetail:
    pod, events = await asyncio.gather(_read_pod(ctx, p.namespace, p.pod), _events_for(ctx, p.namespace, p.pod, "Pod"))
    m = cv.meta(pod)
    st = pod.get("status") or {}
    owner = cv.owner_of(pod)
    start = st.get("startTime")
    now = datetime.now(UTC)
    return PodDetail(
        namespace=p.namespace,
        name=p.pod,
        phase=str(st.get("phase") or "Unknown"),
        status=cv.pod_status(pod),
        node=(pod.get("spec") or {}).get("nodeName"),
        pod_ip=st.get("podIP"),
        start_seconds_ago=cv.age_seconds(start, now),
        labels={str(k): str(v) for k, v in (m.get("labels") or {}).items()},
        annotations=cv.safe_annotations(m.get("annotations")),
        owner=f"{owner[0]}/{owner[1]}" if owner else None,
        containers=cv.container_details(pod),
        conditions=cv.conditions(st),
        events=[cv.event_info(e, now) for e in events[:20]],
    )


# ---------------------------------------------------------------- events, deployments, services, nodes
async def list_events(ctx: KubeContext, p: EventsParams) -> EventList:
    selectors = []
    if p.object_name:
        selectors.append(f"involvedObject.name={p.object_name}")
    if p.object_kind:
        selectors.append(f"involvedObject.kind={p.object_kind}")
    if p.warnings_only:
        selectors.append("type=Warning")
    kwargs: dict[str, Any] = {"field_selector": ",".join(selectors)} if selectors else {}
    items = await _namespaced(
        ctx,
        p.namespace,
        ctx.core.list_namespaced_event_without_preload_content,
        ctx.core.list_event_for_all_namespaces_without_preload_content,
        **kwargs,
    )
    items = cv.sort_events_newest_first(items)
    now = datetime.now(UTC)
    return EventList(
        items=[cv.event_info(e, now) for e in items[: p.limit]], total=len(items), truncated=len(items) > p.limit
    )


async def list_deployments(ctx: KubeContext, p: NamespacedParams) -> DeploymentList:
    items = await _namespaced(
        ctx,
        p.namespace,
        ctx.apps.list_namespaced_deployment_without_preload_content,
        ctx.apps.list_deployment_for_all_namespaces_without_preload_content,
    )
    now = datetime.now(UTC)
    infos = sorted((cv.deployment_info(d, now) for d in items), key=lambda d: (d.namespace, d.name))
    return DeploymentList(items=infos[:MAX_ITEMS], total=len(infos), truncated=len(infos) > MAX_ITEMS)


async def list_services(ctx: KubeContext, p: NamespacedParams) -> ServiceList:
    items = await _namespaced(
        ctx,
        p.namespace,
        ctx.core.list_namespaced_service_without_preload_content,
        ctx.core.list_service_for_all_namespaces_without_preload_content,
    )
    infos = sorted((cv.service_info(s) for s in items), key=lambda s: (s.namespace, s.name))
    return ServiceList(items=infos[:MAX_ITEMS], total=len(infos), truncated=len(infos) > MAX_ITEMS)


async def list_nodes(ctx: KubeContext, _p: NoParams) -> NodeList:
    items = await list_all(ctx, ctx.core.list_node_without_preload_content)
    return NodeList(items=sorted((cv.node_info(n) for n in items), key=lambda n: n.name)[:MAX_ITEMS])


# ---------------------------------------------------------------- workload health (diagnosis)
def _matches(name: str, hint: str) -> bool:
    return name == hint or name.startswith(hint) or hint in name


async def _replicasets(ctx: KubeContext, namespace: str) -> list[Obj]:
    """The namespace's ReplicaSets (rollout history); a caller who may not list them still gets the rest."""
    try:
        return await list_all(ctx, ctx.apps.list_namespaced_replica_set_without_preload_content, namespace)
    except ToolFailure as exc:
        if exc.code == ErrorCode.FORBIDDEN:
            return []
        raise


def _rollouts(rs_raw: list[Obj], deployments: set[str], now: datetime, per_deployment: int = 3) -> list[RolloutInfo]:
    out: list[RolloutInfo] = []
    for rs in rs_raw:
        owner, rev = cv.owner_of(rs), cv.revision_of(rs)
        if owner is None or owner[0] != "Deployment" or owner[1] not in deployments or rev is None:
            continue
        m = cv.meta(rs)
        out.append(
            RolloutInfo(
                deployment=owner[1],
                revision=rev,
                replicaset=str(m.get("name") or ""),
                images=cv.template_images(rs),
                age_seconds=cv.age_seconds(m.get("creationTimestamp"), now),
                change_cause=cv.clip(str((m.get("annotations") or {}).get("kubernetes.io/change-cause") or ""), 200),
                replicas=int((rs.get("status") or {}).get("replicas") or 0),
            )
        )
    out.sort(key=lambda r: (r.deployment, -r.revision))
    kept: dict[str, int] = {}
    newest = []
    for r in out:  # the newest few per deployment: enough to see what the last rollout changed
        kept[r.deployment] = kept.get(r.deployment, 0) + 1
        if kept[r.deployment] <= per_deployment:
            newest.append(r)
    return newest[:20]


async def workload_health(ctx: KubeContext, p: WorkloadHealthParams) -> WorkloadHealth:
    hint = p.name.strip().lower()
    deps_raw, pods_raw, events_raw, rs_raw = await asyncio.gather(
        list_all(ctx, ctx.apps.list_namespaced_deployment_without_preload_content, p.namespace),
        list_all(ctx, ctx.core.list_namespaced_pod_without_preload_content, p.namespace),
        list_all(ctx, ctx.core.list_namespaced_event_without_preload_content, p.namespace),
        _replicasets(ctx, p.namespace),
    )
    now = datetime.now(UTC)
    all_deps = [cv.deployment_info(d, now) for d in deps_raw]
    exact = [d for d in all_deps if d.name == hint]
    deps: list[DeploymentInfo] = exact or [d for d in all_deps if _matches(d.name, hint)]
    deps.sort(key=lambda d: (d.healthy, d.name))  # broken first: what survives truncation is what matters
    dep_names = {f"Deployment/{d.name}" for d in deps}
    pods: list[PodSummary] = []
    raw_by_name: dict[str, Obj] = {}
    for raw in pods_raw:
        s = cv.pod_summary(raw, now)
        if (
            (s.workload in dep_names)
            or (not exact and _matches(s.name, hint))
            or (exact and s.workload is None and s.name.startswith(hint))
        ):
            pods.append(s)
            raw_by_name[s.name] = raw
    if not deps and not pods:
        if not deps_raw and not pods_raw:
            await ensure_namespace(ctx, p.namespace)
        known = ", ".join(sorted(d.name for d in all_deps)[:20]) or "(none)"
        raise ToolFailure(
            ErrorCode.NOT_FOUND,
            f"no workload matching '{p.name}' in namespace '{p.namespace}'; deployments there: {known}",
        )
    pods.sort(key=lambda s: (s.healthy, s.name))
    related = {f"Pod/{s.name}" for s in pods} | dep_names
    related |= {s.owner for s in pods if s.owner}
    events = [cv.event_info(e, now) for e in cv.sort_events_newest_first(events_raw)]
    events = [e for e in events if e.object in related]
    findings = diagnose(DiagnosisInput(pods=pods, deployments=deps, events=events))

    # Tail of logs of failing containers; the previous instance when it crashed (that is where the error is).
    logs: dict[str, list[str]] = {}
    wanted: list[tuple[PodSummary, str, bool]] = []
    for s in pods:
        if s.healthy:
            continue
        for c in s.containers:
            if c.ready and c.restarts == 0:
                continue
            if c.state == "waiting" and c.restarts == 0:
                continue  # never started (image pull, scheduling): no logs to read
            wanted.append((s, c.name, c.restarts > 0 and c.state != "running"))
    for s, container, previous in wanted[:WORKLOAD_MAX_LOG_CONTAINERS]:
        try:
            lines, _ = await _log_lines(ctx, p.namespace, s.name, container, WORKLOAD_LOG_LINES, previous)
        except ToolFailure as exc:
            if exc.code == ErrorCode.UNAVAILABLE:
                raise
            lines = [f"(logs unavailable: {exc.message})"]
        logs[f"{s.name}/{container}" + (" (previous)" if previous else "")] = lines
    if len(wanted) > WORKLOAD_MAX_LOG_CONTAINERS:
        logs["…"] = [f"(logs of {len(wanted) - WORKLOAD_MAX_LOG_CONTAINERS} more containers truncated)"]
    rollouts = _rollouts(rs_raw, {d.name for d in deps}, now)
    healthy = (
        all(d.healthy for d in deps)
        and all(s.healthy for s in pods)
        and not any(f.severity in ("warning", "critical") for f in findings)
    )
    return WorkloadHealth(
        namespace=p.namespace,
        name=p.name,
        deployments=deps[:20],
        pods=pods[:50],
        events=events[:30],
        findings=findings[:30],
        logs=logs,
        rollouts=rollouts,
        healthy=healthy,
        truncated=len(deps) > 20
        or len(pods) > 50
        or len(events) > 30
        or len(findings) > 30
        or len(wanted) > WORKLOAD_MAX_LOG_CONTAINERS,
    )
