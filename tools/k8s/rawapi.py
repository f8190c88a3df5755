"""The few Kubernetes API calls the tools make, without the generated API classes.

The tools read raw JSON (`*_without_preload_content`), so the generated `CoreV1Api`/`AppsV1Api` add nothing but
their cost: each class body wraps hundreds of methods in pydantic's `validate_call` and imports ~300 models,
~0.6 s of CPU before the first call could be made (on a 2-core machine, most of a start-up). These groups send
the same requests through the same `ApiClient` (`param_serialize` then `call_api`: same URL encoding, auth,
headers, timeouts, trace hooks), from a table of the methods the tools use. A method not in the table, or called
with an argument the table does not know, is passed to the generated class (loaded then, once): slower, same
result. tests/k8s/test_rawapi.py checks every entry against the generated method on the sandbox.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

_NS = "/api/v1/namespaces/{namespace}"
_APPS_NS = "/apis/apps/v1/namespaces/{namespace}"

# Query arguments the table passes through, by their Python name (the generated methods' keyword names).
_QUERY = {
    "pretty": "pretty",
    "_continue": "continue",
    "field_selector": "fieldSelector",
    "label_selector": "labelSelector",
    "limit": "limit",
    "resource_version": "resourceVersion",
    "resource_version_match": "resourceVersionMatch",
    "timeout_seconds": "timeoutSeconds",
    "container": "container",
    "follow": "follow",
    "limit_bytes": "limitBytes",
    "previous": "previous",
    "since_seconds": "sinceSeconds",
    "tail_lines": "tailLines",
    "timestamps": "timestamps",
    "dry_run": "dryRun",
    "grace_period_seconds": "gracePeriodSeconds",
    "propagation_policy": "propagationPolicy",
    "field_manager": "fieldManager",
    "field_validation": "fieldValidation",
    "force": "force",
}
# What the generated methods pick from their lists (`select_header_*` prefers the first JSON type).
_ACCEPT = "application/json"
_PATCH_DEFAULT = "application/json-patch+json"


@dataclass(frozen=True)
class Call:
    http: str  # GET, PATCH, DELETE
    path: str
    positional: tuple[str, ...]  # path parameters in the generated signature's order, then `body` if any

    @property
    def body(self) -> bool:
        return self.http != "GET"


CORE: dict[str, Call] = {
    "list_namespace": Call("GET", "/api/v1/namespaces", ()),
    "read_namespace": Call("GET", "/api/v1/namespaces/{name}", ("name",)),
    "list_node": Call("GET", "/api/v1/nodes", ()),
    "read_node": Call("GET", "/api/v1/nodes/{name}", ("name",)),
    "patch_node": Call("PATCH", "/api/v1/nodes/{name}", ("name", "body")),
    "list_pod_for_all_namespaces": Call("GET", "/api/v1/pods", ()),
    "list_namespaced_pod": Call("GET", f"{_NS}/pods", ("namespace",)),
    "read_namespaced_pod": Call("GET", f"{_NS}/pods/{{name}}", ("name", "namespace")),
    "read_namespaced_pod_log": Call("GET", f"{_NS}/pods/{{name}}/log", ("name", "namespace")),
    "delete_namespaced_pod": Call("DELETE", f"{_NS}/pods/{{name}}", ("name", "namespace")),
    "list_namespaced_event": Call("GET", f"{_NS}/events", ("namespace",)),
    "list_event_for_all_namespaces": Call("GET", "/api/v1/events", ()),
    "list_namespaced_service": Call("GET", f"{_NS}/services", ("namespace",)),
    "list_service_for_all_namespaces": Call("GET", "/api/v1/services", ()),
}
APPS: dict[str, Call] = {
    "list_deployment_for_all_namespaces": Call("GET", "/apis/apps/v1/deployments", ()),
    "list_namespaced_deployment": Call("GET", f"{_APPS_NS}/deployments", ("namespace",)),
    "read_namespaced_deployment": Call("GET", f"{_APPS_NS}/deployments/{{name}}", ("name", "namespace")),
    "patch_namespaced_deployment": Call("PATCH", f"{_APPS_NS}/deployments/{{name}}", ("name", "namespace", "body")),
    "patch_namespaced_deployment_scale": Call(
        "PATCH", f"{_APPS_NS}/deployments/{{name}}/scale", ("name", "namespace", "body")
    ),
    "list_namespaced_replica_set": Call("GET", f"{_APPS_NS}/replicasets", ("namespace",)),
    "read_namespaced_stateful_set": Call("GET", f"{_APPS_NS}/statefulsets/{{name}}", ("name", "namespace")),
    "patch_namespaced_stateful_set_scale": Call(
        "PATCH", f"{_APPS_NS}/statefulsets/{{name}}/scale", ("name", "namespace", "body")
    ),
}
VERSION: dict[str, Call] = {"get_code": Call("GET", "/version/", ())}

_SUFFIX = "_without_preload_content"
_PATH_PARAM = re.compile(r"\{(\w+)\}")


class RawGroup:
    """One API group (`core`, `apps`, `version`) over an `ApiClient`. Unknown attributes come from the generated
    class, so code written against `CoreV1Api` keeps working."""

    TABLE: dict[str, Call] = {}
    GENERATED: tuple[str, str] = ("", "")  # (module, class) of the generated group

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client
        self._generated: Any = None

    def generated(self) -> Any:
        if self._generated is None:
            module, cls = self.GENERATED
            self._generated = getattr(importlib.import_module(module), cls)(self.api_client)
        return self._generated

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("api_client", "_generated"):
            raise AttributeError(name)
        return getattr(self.generated(), name)

    async def _send(self, name: str, call: Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        names = call.positional
        values = dict(zip(names, args, strict=False))
        extra = {k: v for k, v in kwargs.items() if k in names}
        values |= extra
        rest = {k: v for k, v in kwargs.items() if k not in names}
        timeout = rest.pop("_request_timeout", None)
        content_type = rest.pop("_content_type", None)
        body = values.pop("body", None) if "body" in names else rest.pop("body", None)
        if len(args) > len(names) or any(k not in _QUERY for k in rest) or (body is not None and not call.body):
            # not a shape this table knows: the generated method decides (same request, or its own error)
            method: Callable[..., Awaitable[Any]] = getattr(self.generated(), name + _SUFFIX)
            return await method(*args, **kwargs)
        headers: dict[str, str | None] = {"Accept": _ACCEPT}
        if call.http == "PATCH":
            headers["Content-Type"] = content_type or _PATCH_DEFAULT
        query = [(_QUERY[k], v) for k, v in rest.items() if v is not None]
        params = await self.api_client.param_serialize(
            method=call.http,
            resource_path=call.path,
            path_params={k: values[k] for k in _PATH_PARAM.findall(call.path)},
            query_params=query,
            header_params=headers,
            body=body,
            post_params=[],
            files={},
            auth_settings=["BearerToken"],
            collection_formats={},
            _host=None,
            _request_auth=None,
        )
        response = await self.api_client.call_api(*params, _preload_content=False, _request_timeout=timeout)
        return response.response


def _method(name: str, call: Call) -> Callable[..., Awaitable[Any]]:
    async def method(self: RawGroup, *args: Any, **kwargs: Any) -> Any:
        return await self._send(name, call, args, kwargs)

    method.__name__ = method.__qualname__ = name + _SUFFIX
    return method


def _group(cls_name: str, table: dict[str, Call], generated: tuple[str, str]) -> type[RawGroup]:
    namespace: dict[str, Any] = {"TABLE": table, "GENERATED": generated}
    for name, call in table.items():
        namespace[name + _SUFFIX] = _method(name, call)
    return type(cls_name, (RawGroup,), namespace)


RawCoreV1Api = _group("RawCoreV1Api", CORE, ("kubernetes.aio.client.api.core_v1_api", "CoreV1Api"))
RawAppsV1Api = _group("RawAppsV1Api", APPS, ("kubernetes.aio.client.api.apps_v1_api", "AppsV1Api"))
RawVersionApi = _group("RawVersionApi", VERSION, ("kubernetes.aio.client.api.version_api", "VersionApi"))
