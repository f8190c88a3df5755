"""Typed remedies the runbooks use beyond the basic writes: set a container's memory/CPU requests and limits.

Same contract as `tools.k8s.writes`: read first (clear "not found"), one strategic-merge write (never retried),
server-side dry run for the preview, before/after from what the server answered.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from tools.k8s.client import KubeContext
from tools.k8s.models import ChangePreview, DryRunnable, Namespace, ObjName
from tools.k8s.writes import STRATEGIC, _dry, _read_namespaced, _would
from tools.spec import ErrorCode, ToolFailure

Obj = dict[str, Any]
Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$", max_length=20)]
ContainerName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]


class SetContainerResourcesParams(DryRunnable):
    namespace: Namespace
    deployment: ObjName
    container: ContainerName
    memory_limit: Quantity | None = None
    memory_request: Quantity | None = None
    cpu_limit: Quantity | None = None
    cpu_request: Quantity | None = None

    @model_validator(mode="after")
    def _something(self) -> SetContainerResourcesParams:
        if not any((self.memory_limit, self.memory_request, self.cpu_limit, self.cpu_request)):
            raise ValueError("give at least one of memory_limit, memory_request, cpu_limit, cpu_request")
        return self


def _resources(dep: Obj, container: str) -> Obj | None:
    for c in ((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
        if c.get("name") == container:
            return dict(c.get("resources") or {})
    return None


def _flat(res: Obj | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for kind in ("requests", "limits"):
        for k, v in ((res or {}).get(kind) or {}).items():
            out[f"{kind}.{k}"] = str(v)
    return out


async def set_container_resources(ctx: KubeContext, p: SetContainerResourcesParams) -> ChangePreview:
    dep = await _read_namespaced(
        ctx, ctx.apps.read_namespaced_deployment_without_preload_content, "deployment", p.namespace, p.deployment
    )
    before_res = _resources(dep, p.container)
    if before_res is None:
        raise ToolFailure(
            ErrorCode.NOT_FOUND, f"deployment {p.namespace}/{p.deployment} has no container '{p.container}'"
        )
    limits = {k: v for k, v in (("memory", p.memory_limit), ("cpu", p.cpu_limit)) if v}
    requests = {k: v for k, v in (("memory", p.memory_request), ("cpu", p.cpu_request)) if v}
    resources: Obj = {}
    if limits:
        resources["limits"] = limits
    if requests:
        resources["requests"] = requests
    # strategic merge matches containers by name: only this container's resources change
    body = {"spec": {"template": {"spec": {"containers": [{"name": p.container, "resources": resources}]}}}}
    answer = await ctx.write_json(
        ctx.apps.patch_namespaced_deployment_without_preload_content,
        p.deployment,
        p.namespace,
        body,
        _content_type=STRATEGIC,
        **_dry(p.dry_run),
    )
    after_res = _resources(answer or {}, p.container) if answer else None
    changes = ", ".join(
        [f"limits.{k}={v}" for k, v in limits.items()] + [f"requests.{k}={v}" for k, v in requests.items()]
    )
    return ChangePreview(
        dry_run=p.dry_run,
        action="set_resources",
        kind="Deployment",
        namespace=p.namespace,
        name=p.deployment,
        before=_flat(before_res) or {"resources": "-"},
        after=_flat(after_res) if after_res is not None else _flat(resources),
        summary=_would(
            p.dry_run, f"set {changes} on container {p.container} of deployment {p.namespace}/{p.deployment}"
        ),
    )
