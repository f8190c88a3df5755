"""The mutating tools. Each reads the object first (a clear "not found" before any write), sends exactly one
write (never retried), supports server-side dry run (dryRun=All: validated by the server, nothing changed), and
reports before/after from what the server answered."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tools.k8s import convert as cv
from tools.k8s.models import (
    ChangePreview,
    DeletePodParams,
    NodeParams,
    RestartDeploymentParams,
    RollbackDeploymentParams,
    ScaleDeploymentParams,
    ScaleStatefulSetParams,
)
from tools.k8s.reads import ensure_namespace, list_all
from tools.spec import ErrorCode, ToolFailure

if TYPE_CHECKING:  # the kubernetes client loads only when a tool runs (listing the tools needs none of it)
    from tools.k8s.client import KubeContext

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def _dry(dry_run: bool) -> dict[str, Any]:
    return {"dry_run": "All"} if dry_run else {}


def _would(dry_run: bool, text: str) -> str:
    return f"[dry run] would {text}" if dry_run else text


async def _read_namespaced(ctx: KubeContext, fn: Any, kind: str, namespace: str, name: str) -> Obj:
    try:
        return await ctx.read_json(fn, name, namespace)
    except ToolFailure as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            await ensure_namespace(ctx, namespace)
            raise ToolFailure(
                ErrorCode.NOT_FOUND, f"{kind} '{name}' not found in namespace '{namespace}'", upstream=exc.upstream
            ) from exc
        raise


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


# ---------------------------------------------------------------- scale
async def _scale(
    ctx: KubeContext, *, kind: str, read: Any, patch: Any, namespace: str, name: str, replicas: int, dry_run: bool
) -> ChangePreview:
    """Scale through the /scale subresource (what `kubectl scale` does); before = the object's spec.replicas."""
    obj = await _read_namespaced(ctx, read, kind.lower(), namespace, name)
    before = _replicas(obj)
    answer = await ctx.write_json(
        patch, name, namespace, {"spec": {"replicas": replicas}}, _content_type=MERGE, **_dry(dry_run)
    )
    after = int((answer.get("spec") or {}).get("replicas", replicas))
    return ChangePreview(
        dry_run=dry_run,
        action="scale",
        kind=kind,
        namespace=namespace,
        name=name,
        before={"replicas": str(before)},
        after={"replicas": str(after)},
        summary=_would(dry_run, f"scale {kind.lower()} {namespace}/{name}: replicas {before} -> {after}"),
    )


async def scale_deployment(ctx: KubeContext, p: ScaleDeploymentParams) -> ChangePreview:
    return await _scale(
        ctx,
        kind="Deployment",
        read=ctx.apps.read_namespaced_deployment_without_preload_content,
        patch=ctx.apps.patch_namespaced_deployment_scale_without_preload_content,
        namespace=p.namespace,
        name=p.deployment,
        replicas=p.replicas,
        dry_run=p.dry_run,
    )


async def scale_statefulset(ctx: KubeContext, p: ScaleStatefulSetParams) -> ChangePreview:
    return await _scale(
        ctx,
        kind="StatefulSet",
        read=ctx.apps.read_namespaced_stateful_set_without_preload_content,
        patch=ctx.apps.patch_namespaced_stateful_set_scale_without_preload_content,
        namespace=p.namespace,
        name=p.statefulset,
        replicas=p.replicas,
        dry_run=p.dry_run,
    )


# ---------------------------------------------------------------- restart
def _restarted_at(obj: Obj) -> str:
    tpl_meta = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return str((tpl_meta.get("annotations") or {}).get(cv.RESTARTED_AT) or "")


async def restart_deployment(ctx: KubeContext, p: RestartDeploymentParams) -> ChangePreview:
    dep = await _read_namespaced(
        ctx, ctx.apps.read_namespaced_deployment_without_preload_content, "deployment", p.namespace, p.deployment
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Exactly what `kubectl rollout restart` sends: a new template annotation triggers a rollout.
    body = {"spec": {"template": {"metadata": {"annotations": {cv.RESTARTED_AT: stamp}}}}}
    answer = await ctx.write_json(
        ctx.apps.patch_namespaced_deployment_without_preload_content,
        p.deployment,
        p.namespace,
        body,
        _content_type=STRATEGIC,
        **_dry(p.dry_run),
    )
    before = {"restartedAt": _restarted_at(dep) or "-", "replicas": str(_replicas(dep))}
    rev = cv.revision_of(dep)
    if rev is not None:
        before["revision"] = str(rev)
    after = {"restartedAt": _restarted_at(answer) or stamp, "replicas": str(_replicas(answer or dep))}
    return ChangePreview(
        dry_run=p.dry_run,
        action="restart",
        kind="Deployment",
        namespace=p.namespace,
        name=p.deployment,
        before=before,
        after=after,
        summary=_would(
            p.dry_run, f"restart deployment {p.namespace}/{p.deployment} (rolling restart of {_replicas(dep)} pods)"
        ),
    )


# ---------------------------------------------------------------- rollback
def _owned_by(obj: Obj, uid: str, name: str) -> bool:
    for ref in cv.meta(obj).get("ownerReferences") or []:
        if ref.get("kind") == "Deployment" and (ref.get("uid") == uid if uid else ref.get("name") == name):
            return True
    return False


def _selector(dep: Obj) -> str:
    labels = (((dep.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


async def rollback_deployment(ctx: KubeContext, p: RollbackDeploymentParams) -> ChangePreview:
    dep = await _read_namespaced(
        ctx, ctx.apps.read_namespaced_deployment_without_preload_content, "deployment", p.namespace, p.deployment
    )
    uid = str(cv.meta(dep).get("uid") or "")
    kwargs: dict[str, Any] = {}
    sel = _selector(dep)
    if sel:
        kwargs["label_selector"] = sel
    rs_all = await list_all(ctx, ctx.apps.list_namespaced_replica_set_without_preload_content, p.namespace, **kwargs)
    history: dict[int, Obj] = {}
    for rs in rs_all:
        rev = cv.revision_of(rs)
        if rev is not None and _owned_by(rs, uid, p.deployment):
            history[rev] = rs
    current = cv.revision_of(dep)
    if current is None and history:
        current = max(history)
    if p.revision is not None:
        if p.revision not in history:
            known = ", ".join(str(r) for r in sorted(history)) or "(none)"
            raise ToolFailure(
                ErrorCode.NOT_FOUND,
                f"revision {p.revision} of deployment '{p.deployment}' not found; revisions: {known}",
            )
        if p.revision == current:
            raise ToolFailure(
                ErrorCode.INVALID,
                f"deployment '{p.deployment}' is already at revision {p.revision}; nothing to roll back",
            )
        target = p.revision
    else:
        older = [r for r in history if current is None or r < current]
        if not older:
            raise ToolFailure(
                ErrorCode.INVALID,
                f"deployment '{p.deployment}' has no previous revision to roll back to (current revision: {current})",
            )
        target = max(older)
    template = copy.deepcopy((history[target].get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)  # kubectl drops it: the deployment controller adds it back
    # Like `kubectl rollout undo`: replace the whole pod template with the ReplicaSet's (a JSON patch).
    patch = [{"op": "replace", "path": "/spec/template", "value": template}]
    answer = await ctx.write_json(
        ctx.apps.patch_namespaced_deployment_without_preload_content,
        p.deployment,
        p.namespace,
        patch,
        _content_type=JSON_PATCH,
        **_dry(p.dry_run),
    )
    before_images = ", ".join(cv.template_images(dep))
    after_images = ", ".join(cv.template_images(answer) if answer.get("spec") else cv.template_images(history[target]))
    return ChangePreview(
        dry_run=p.dry_run,
        action="rollback",
        kind="Deployment",
        namespace=p.namespace,
        name=p.deployment,
        before={"revision": str(current), "image": before_images},
        after={"revision": str(target), "image": after_images},
        summary=_would(
            p.dry_run,
            f"roll back deployment {p.namespace}/{p.deployment} from revision {current} to {target} ({before_images} -> {after_images})",
        ),
    )


# ---------------------------------------------------------------- delete pod
async def delete_pod(ctx: KubeContext, p: DeletePodParams) -> ChangePreview:
    pod = await _read_namespaced(ctx, ctx.core.read_namespaced_pod_without_preload_content, "pod", p.namespace, p.pod)
    status = cv.pod_status(pod)
    workload = cv.workload_of(pod)
    await ctx.write_json(ctx.core.delete_namespaced_pod_without_preload_content, p.pod, p.namespace, **_dry(p.dry_run))
    replaced = (
        f"its controller ({workload}) will create a replacement"
        if workload
        else "it has no controller: it will NOT be recreated"
    )
    return ChangePreview(
        dry_run=p.dry_run,
        action="delete",
        kind="Pod",
        namespace=p.namespace,
        name=p.pod,
        before={"status": status, "node": str((pod.get("spec") or {}).get("nodeName") or "-")},
        after={"status": "deleted"},
        summary=_would(p.dry_run, f"delete pod {p.namespace}/{p.pod}; {replaced}"),
    )


# ---------------------------------------------------------------- cordon / uncordon
async def _set_unschedulable(ctx: KubeContext, p: NodeParams, value: bool) -> ChangePreview:
    try:
        node = await ctx.read_json(ctx.core.read_node_without_preload_content, p.node)
    except ToolFailure as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            raise ToolFailure(ErrorCode.NOT_FOUND, f"node '{p.node}' not found", upstream=exc.upstream) from exc
        raise
    before = bool((node.get("spec") or {}).get("unschedulable"))
    answer = await ctx.write_json(
        ctx.core.patch_node_without_preload_content,
        p.node,
        {"spec": {"unschedulable": value}},
        _content_type=STRATEGIC,
        **_dry(p.dry_run),
    )
    after = bool((answer.get("spec") or {}).get("unschedulable", value))
    verb = "cordon" if value else "uncordon"
    note = " (already so; no change)" if before == value else ""
    return ChangePreview(
        dry_run=p.dry_run,
        action=verb,
        kind="Node",
        name=p.node,
        before={"unschedulable": str(before).lower()},
        after={"unschedulable": str(after).lower()},
        summary=_would(
            p.dry_run, f"{verb} node {p.node}: unschedulable {str(before).lower()} -> {str(after).lower()}{note}"
        ),
    )


async def cordon_node(ctx: KubeContext, p: NodeParams) -> ChangePreview:
    return await _set_unschedulable(ctx, p, True)


async def uncordon_node(ctx: KubeContext, p: NodeParams) -> ChangePreview:
    return await _set_unschedulable(ctx, p, False)
