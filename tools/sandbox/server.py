"""The HTTP face of the sandbox: routing, discovery, tables, watch streams, logs. JSON only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any
from urllib.parse import unquote

import yaml
from aiohttp import web

from tools.sandbox import rbac
from tools.sandbox.access import identify, resource_verb, review
from tools.sandbox.auth import Authenticator, UserInfo
from tools.sandbox.cluster import Cluster
from tools.sandbox.errors import ApiError, bad_request, invalid
from tools.sandbox.httpio import (
    JSON_ONLY,
    NO_CONTAINERS,
    PROTECTED_NAMESPACES,
    bool_param,
    check_fields,
    dry_run_param,
    error_response,
    int_param,
    json_response,
    no_route,
    read_body,
    wants_table,
    with_warnings,
)
from tools.sandbox.incidents import INCIDENTS_PATH, incident_route
from tools.sandbox.logstream import serve_log
from tools.sandbox.metrics import metrics_handler
from tools.sandbox.patch import (
    APPLY_PATCH,
    JSON_PATCH,
    PATCH_TYPES,
    STRATEGIC_PATCH,
    PatchError,
    apply_patch,
)
from tools.sandbox.resources import BY_PLURAL, ResourceType, discovery_list, for_group_version, group_versions
from tools.sandbox.schemas import openapi_doc, swagger_v2
from tools.sandbox.selectors import SelectorError, parse_field_selector, parse_label_selector
from tools.sandbox.tables import column_definitions, row

Obj = dict[str, Any]
log = logging.getLogger(__name__)
KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T17:58:46Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_CLUSTER_KEY: web.AppKey[Cluster] = web.AppKey("cluster", Cluster)
_USER: web.RequestKey[UserInfo] = web.RequestKey("user", UserInfo)  # who asks (maybe impersonated)
_WATCH_TIMEOUT_DEFAULT = 1800


class SandboxServer:
    def __init__(self, cluster: Cluster, authn: Authenticator | None = None) -> None:
        self.cluster = cluster
        self.authn = authn or Authenticator()
        self.app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024 * 1024)
        self.app[_CLUSTER_KEY] = cluster
        self.app.router.add_get("/metrics", metrics_handler(cluster))  # kube-state-metrics/cAdvisor format
        # scripted incidents (`kubeduty sandbox incident`): a non-resource URL, so RBAC lets only cluster-admin in
        self.app.router.add_route("*", INCIDENTS_PATH, incident_route(cluster, self._authorize_path))
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._watch_tasks: set[asyncio.Task[Any]] = set()
        # (user, what was asked, allowed) per request, newest last: tests compare RBAC rules with real calls.
        self.access_log: deque[tuple[str, rbac.Attributes, bool]] = deque(maxlen=100_000)
        self.port = 0

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.cluster.record_request(request.method, request.path)
        if self.cluster.down:
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "the server is currently unable to handle the request",
                    "reason": "ServiceUnavailable",
                    "code": 503,
                },
                503,
            )
        try:
            request[_USER] = identify(request, self.cluster, self.authn)
            result: web.StreamResponse = await handler(request)
            return result
        except ApiError as exc:
            return error_response(exc)
        except SelectorError as exc:
            return error_response(bad_request(str(exc)))
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug here must reach the client as a Status, not a traceback page
            log.exception("sandbox: %s %s failed", request.method, request.path)
            return error_response(
                ApiError(500, "InternalError", f"Internal error occurred: {type(exc).__name__}: {exc}")
            )

    # ---- routing -----------------------------------------------------------------------------------------

    def _authorize(self, request: web.Request, attrs: rbac.Attributes) -> None:
        user = request[_USER]
        allowed = rbac.allowed(self.cluster, user, attrs)
        self.access_log.append((user.name, attrs, allowed))
        if not allowed:
            raise rbac.forbidden(user, attrs)

    def _authorize_path(self, request: web.Request) -> None:
        self._authorize(
            request, rbac.Attributes(verb=request.method.lower(), path=request.path, resource_request=False)
        )

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [unquote(p) for p in request.path.strip("/").split("/") if p]
        if not parts or parts[0] in ("version", "healthz", "readyz", "livez", "openapi"):
            self._authorize_path(request)
        elif len(parts) <= 2 or (parts[0] == "apis" and len(parts) == 3):
            self._authorize_path(request)  # discovery documents are non-resource URLs
        if not parts:
            groups = [f"/apis/{g}/{v}" for g, v in group_versions().items()]
            return json_response({"paths": ["/api", "/api/v1", "/apis", *groups, "/openapi/v3", "/version"]})
        head = parts[0]
        if head == "version":
            return json_response(KUBE_VERSION)
        if head in ("healthz", "readyz", "livez"):
            return web.Response(text="ok")
        if head == "openapi":
            return self._openapi_v2(request) if parts[1:] == ["v2"] else self._openapi(parts[1:])
        if head == "api":
            if len(parts) == 1:
                return json_response(
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                        ],
                    }
                )
            if parts[1] != "v1":
                raise no_route()
            return await self._resource_path("", "v1", parts[2:], request)
        if head == "apis":
            if len(parts) == 1:
                return json_response(self._group_list())
            group = parts[1]
            version = group_versions().get(group)
            if len(parts) == 2:
                if version is None:
                    raise no_route()
                return json_response(next(g for g in self._group_list()["groups"] if g["name"] == group))
            if version is None or parts[2] != version:
                raise no_route()
            return await self._resource_path(group, version, parts[3:], request)
        raise no_route()

    @staticmethod
    def _group_list() -> Obj:
        groups = []
        for group, version in group_versions().items():
            gv = {"groupVersion": f"{group}/{version}", "version": version}
            groups.append(
                {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv], "preferredVersion": gv}
            )
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _openapi_v2(self, request: web.Request) -> web.Response:
        # JSON only: kubectl asks for the protobuf form (to validate `kind: List` files) and gets a 404 instead.
        if "json" not in request.headers.get("Accept", "application/json"):
            raise no_route()
        return web.Response(body=swagger_v2(), content_type="application/json")

    def _openapi(self, rest: list[str]) -> web.Response:
        """OpenAPI v3 with the real v1.32 schemas of the served kinds: `kubectl explain`, `apply`, validation."""
        gvs = {"api/v1": ("", "v1"), **{f"apis/{g}/{v}": (g, v) for g, v in group_versions().items()}}

        if rest == ["v3"]:
            return json_response({"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash=sandbox2"} for p in gvs}})
        key = "/".join(rest[1:])
        if rest[:1] == ["v3"] and key in gvs:
            group, version = gvs[key]
            served = [(r.kind, r.plural, r.namespaced) for r in for_group_version(group, version)]
            return json_response(openapi_doc(group, version, served))
        raise no_route()

    async def _resource_path(
        self, group: str, version: str, segs: list[str], request: web.Request
    ) -> web.StreamResponse:
        if not segs:
            if request.method != "GET":
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            return json_response(discovery_list(group, version))
        ns: str | None = None
        if segs[0] == "namespaces" and len(segs) >= 3 and segs[2] not in ("status", "finalize"):
            ns, segs = segs[1], segs[2:]
        plural = segs[0]
        rtype = BY_PLURAL.get(plural)
        if rtype is None or rtype.group != group:
            raise no_route()
        if ns is not None and not rtype.namespaced:
            raise no_route()
        name = segs[1] if len(segs) > 1 else None
        sub = segs[2] if len(segs) > 2 else None
        if len(segs) > 3 or (sub is not None and sub not in rtype.subresources):
            raise no_route()
        if rtype.namespaced and ns is None and name is not None:
            raise no_route()
        verb = resource_verb(request.method, name is not None, bool_param(request, "watch"))
        # As the real RequestInfo: a namespace object's own namespace is its name (RoleBindings there apply).
        scope = ns or (name if plural == "namespaces" and name else "")
        self._authorize(request, rbac.Attributes(verb, scope, group, plural, sub or "", name or ""))
        if rtype.virtual:
            if request.method != "POST" or name is not None:
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            answer = review(self.cluster, rtype, ns, await read_body(request, kind=rtype.kind), request[_USER])
            return json_response(answer, 201)
        if name is None:
            return await self._collection(rtype, ns, request)
        if sub == "log":
            return await serve_log(self.cluster, ns, name, request)
        if sub == "eviction":
            return self._evict(ns, name, request)
        if sub in ("exec", "attach", "portforward"):
            with self.cluster.lock:
                self.cluster.read(rtype, ns, name)  # a missing pod is still a 404
            raise bad_request(NO_CONTAINERS.format(what=f"pods/{sub}"))
        if sub == "scale":
            return await self._scale(rtype, ns, name, request)
        if sub == "finalize":
            with self.cluster.lock:
                return json_response(self.cluster.read(rtype, ns, name))
        return await self._object(rtype, ns, name, sub, request)

    # ---- collections -------------------------------------------------------------------------------------

    async def _collection(self, rtype: ResourceType, ns: str | None, request: web.Request) -> web.StreamResponse:
        method = request.method
        if method == "GET":
            if bool_param(request, "watch"):
                return await self._watch(rtype, ns, request)
            return self._list(rtype, ns, request)
        if method == "POST":
            if not rtype.namespaced or ns is not None:
                body = await read_body(request)
                warnings = check_fields(request, rtype, body)
                with self.cluster.lock:
                    obj = self.cluster.create(rtype, ns, body, dry_run=dry_run_param(request))
                return with_warnings(json_response(obj, 201), warnings)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if method == "DELETE":
            label = parse_label_selector(request.query.get("labelSelector"))
            field = parse_field_selector(request.query.get("fieldSelector"), rtype)
            dry = dry_run_param(request)
            with self.cluster.lock:
                items, _, _, _ = self.cluster.list_raw(rtype, ns, label=label, field=field)
                for (item_ns, item_name), _obj in items:
                    with contextlib.suppress(ApiError):
                        self.cluster.delete(rtype, item_ns or None, item_name, dry_run=dry)
            return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _list(self, rtype: ResourceType, ns: str | None, request: web.Request) -> web.Response:
        label = parse_label_selector(request.query.get("labelSelector"))
        field = parse_field_selector(request.query.get("fieldSelector"), rtype)
        limit = int_param(request, "limit") or 0
        cont = request.query.get("continue") or None
        table = wants_table(request)
        with self.cluster.lock:
            items, rv, token, remaining = self.cluster.list_raw(
                rtype, ns, label=label, field=field, limit=limit, cont=cont
            )
            now = self.cluster.wall()
            meta: Obj = {"resourceVersion": rv}
            if token:
                meta["continue"] = token
                meta["remainingItemCount"] = remaining
            if table:
                include = request.query.get("includeObject", "Metadata")
                body = {
                    "kind": "Table",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "columnDefinitions": column_definitions(rtype.plural),
                    "rows": [row(rtype.plural, obj, now, include) for _, obj in items],
                }
                raw = json.dumps(body, separators=(",", ":")).encode()
                return web.Response(body=raw, content_type="application/json")
            encoded = [self.cluster.encoded(rtype.plural, key, obj) for key, obj in items]
        head = json.dumps(
            {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": meta}, separators=(",", ":")
        ).encode()
        # Serialize once per object (cached) and splice: a 10,000-pod list costs one join, not one dumps.
        raw = head[:-1] + b',"items":[' + b",".join(encoded) + b"]}"
        return web.Response(body=raw, content_type="application/json")

    async def _watch(self, rtype: ResourceType, ns: str | None, request: web.Request) -> web.StreamResponse:
        label = parse_label_selector(request.query.get("labelSelector"))
        field = parse_field_selector(request.query.get("fieldSelector"), rtype)
        rv_text = request.query.get("resourceVersion", "")
        timeout = int_param(request, "timeoutSeconds") or _WATCH_TIMEOUT_DEFAULT
        queue: asyncio.Queue[tuple[str, Obj] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def matches(obj: Obj) -> bool:
            if ns is not None and obj["metadata"].get("namespace") != ns:
                return False
            return (label is None or label(obj)) and (field is None or field(obj))

        def on_event(etype: str, plural: str, obj: Obj) -> None:
            if etype == "DOWN":
                loop.call_soon_threadsafe(queue.put_nowait, None)
            elif plural == rtype.plural and matches(obj):
                loop.call_soon_threadsafe(queue.put_nowait, (etype, obj))

        with self.cluster.lock:
            if ns is not None and rtype.namespaced:
                self.cluster.list_raw(rtype, ns, limit=1)  # 404 for a missing namespace, like the real server
            initial: list[tuple[str, Obj]] = []
            if rv_text in ("", "0"):
                initial = [("ADDED", o) for _, o in self.cluster.list_raw(rtype, ns)[0] if matches(o)]
            else:
                try:
                    rv = int(rv_text)
                except ValueError as exc:
                    raise bad_request(f"invalid resource version: {rv_text}") from exc
                try:
                    initial = [(t, o) for t, o in self.cluster.history_since(rv, rtype.plural) if matches(o)]
                except ApiError as exc:
                    initial = [("ERROR", exc.status())]
            token = self.cluster.subscribe(on_event)
        table = wants_table(request)
        include = request.query.get("includeObject", "Metadata")
        first_row = True

        def encode(etype: str, obj: Obj) -> bytes:
            # `kubectl get -w` asks for Table events: one row each, column definitions on the first only.
            nonlocal first_row
            if table and etype != "ERROR":
                obj = {
                    "kind": "Table",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                    "columnDefinitions": column_definitions(rtype.plural) if first_row else [],
                    "rows": [row(rtype.plural, obj, self.cluster.wall(), include)],
                }
                first_row = False
            return json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"

        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
        try:
            await resp.prepare(request)
            for etype, obj in initial:
                await resp.write(encode(etype, obj))
            deadline = loop.time() + timeout
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=remaining)
                except TimeoutError:
                    break
                if item is None:
                    break
                etype, obj = item
                await resp.write(encode(etype, obj))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.cluster.unsubscribe(token)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    # ---- single objects ----------------------------------------------------------------------------------

    async def _object(
        self, rtype: ResourceType, ns: str | None, name: str, sub: str | None, request: web.Request
    ) -> web.StreamResponse:
        method = request.method
        c = self.cluster
        if method == "GET":
            with c.lock:
                obj = c.read(rtype, ns, name)
                if wants_table(request):
                    body = {
                        "kind": "Table",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                        "columnDefinitions": column_definitions(rtype.plural),
                        "rows": [row(rtype.plural, obj, c.wall(), request.query.get("includeObject", "Metadata"))],
                    }
                    return json_response(body)
                raw = c.encoded(rtype.plural, (ns or "", name), obj)
            return web.Response(body=raw, content_type="application/json")
        dry = dry_run_param(request)
        if method == "PUT":
            body = await read_body(request)
            warnings = check_fields(request, rtype, body)
            with c.lock:
                return with_warnings(
                    json_response(c.replace(rtype, ns, name, body, dry_run=dry, subresource=sub)), warnings
                )
        if method == "PATCH":
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype not in PATCH_TYPES:
                raise ApiError(415, "UnsupportedMediaType", JSON_ONLY)
            if ctype == APPLY_PATCH:
                return await self._server_side_apply(rtype, ns, name, sub, request)
            patch = await read_body(request)
            warnings = check_fields(request, rtype, patch) if ctype != JSON_PATCH else []
            with c.lock:
                return with_warnings(
                    json_response(c.patch(rtype, ns, name, ctype, patch, dry_run=dry, subresource=sub)), warnings
                )
        if method == "DELETE":
            if sub is not None:
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            if rtype.plural == "namespaces" and name in PROTECTED_NAMESPACES:
                raise ApiError(
                    403,
                    "Forbidden",
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                    {"name": name, "kind": "namespaces"},
                )
            opts = await read_body(request)
            opts = opts if isinstance(opts, dict) else {}
            dry = dry or "All" in (opts.get("dryRun") or [])
            propagation = str(opts.get("propagationPolicy") or request.query.get("propagationPolicy") or "Background")
            with c.lock:
                gone = c.delete(
                    rtype, ns, name, dry_run=dry, propagation=propagation, preconditions=opts.get("preconditions")
                )
            if rtype.plural in ("pods", "services", "namespaces"):
                return json_response(gone)
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": name,
                        "group": rtype.group,
                        "kind": rtype.plural,
                        "uid": gone["metadata"].get("uid"),
                    },
                }
            )
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    async def _server_side_apply(
        self, rtype: ResourceType, ns: str | None, name: str, sub: str | None, request: web.Request
    ) -> web.Response:
        """Server-side apply, simplified: create when missing, else a strategic merge of the applied config.
        One implicit field manager: no managedFields, no conflicts (`force` is accepted and changes nothing)."""
        if not request.query.get("fieldManager"):
            raise invalid(
                "PatchOptions", "", [("fieldManager", "Required value: is required for apply patch")], "meta.k8s.io"
            )
        try:
            body = yaml.safe_load(await request.read())
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from exc
        if not isinstance(body, dict):
            raise bad_request("the applied configuration must be an object")
        warnings = check_fields(request, rtype, body)
        dry = dry_run_param(request)
        c = self.cluster
        with c.lock:
            if sub is None and c.peek(rtype.plural, ns, name) is None:
                body.setdefault("metadata", {})["name"] = name
                return with_warnings(json_response(c.create(rtype, ns, body, dry_run=dry), 201), warnings)
            body.get("metadata", {}).pop("resourceVersion", None)
            return with_warnings(
                json_response(c.patch(rtype, ns, name, STRATEGIC_PATCH, body, dry_run=dry, subresource=sub)), warnings
            )

    async def _scale(self, rtype: ResourceType, ns: str | None, name: str, request: web.Request) -> web.Response:
        c = self.cluster
        method = request.method
        dry = dry_run_param(request)
        if method == "GET":
            with c.lock:
                return json_response(c.scale_of(rtype, c.read(rtype, ns, name)))
        if method in ("PUT", "PATCH"):
            body = await read_body(request)
            with c.lock:
                if method == "PATCH":
                    ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
                    if ctype not in PATCH_TYPES:
                        raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {ctype}")
                    current = c.scale_of(rtype, c.read(rtype, ns, name))
                    try:
                        body = apply_patch(ctype, current, body)
                    except PatchError as exc:
                        raise ApiError(422, "Invalid", str(exc)) from exc
                if not isinstance(body, dict):
                    raise bad_request("the request body must be a JSON object")
                return json_response(c.set_scale(rtype, ns, name, body, dry_run=dry))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _evict(self, ns: str | None, name: str, request: web.Request) -> web.Response:
        """POST pods/NAME/eviction (kubectl drain). The body may be protobuf: only the URL and dryRun matter."""
        if request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        with self.cluster.lock:
            self.cluster.delete(BY_PLURAL["pods"], ns, name, dry_run=dry_run_param(request))
        return json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
        )
