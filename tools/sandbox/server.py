"""The HTTP face of the sandbox: routing, discovery, tables, watch streams, logs. JSON only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tools.sandbox.cluster import Cluster
from tools.sandbox.errors import ApiError, bad_request
from tools.sandbox.logs import render_logs
from tools.sandbox.patch import PATCH_TYPES, PatchError, apply_patch
from tools.sandbox.resources import BY_PLURAL, ResourceType, discovery_list
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
_WATCH_TIMEOUT_DEFAULT = 1800


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type="application/json"
    )


def _error(exc: ApiError) -> web.Response:
    return _json(exc.status(), exc.code)


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {raw!r} is not an integer") from exc


def _bool_param(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


async def _body(request: web.Request) -> Any:
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if "protobuf" in ctype or "yaml" in ctype:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: application/json, {', '.join(PATCH_TYPES)}",
        )
    raw = await request.read()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from exc


class SandboxServer:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024 * 1024)
        self.app[_CLUSTER_KEY] = cluster
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._watch_tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.cluster.record_request(request.method, request.path)
        if self.cluster.down:
            return _json(
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
            result: web.StreamResponse = await handler(request)
            return result
        except ApiError as exc:
            return _error(exc)
        except SelectorError as exc:
            return _error(bad_request(str(exc)))
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug here must reach the client as a Status, not a traceback page
            log.exception("sandbox: %s %s failed", request.method, request.path)
            return _error(ApiError(500, "InternalError", f"Internal error occurred: {type(exc).__name__}: {exc}"))

    # ---- routing -----------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [unquote(p) for p in request.path.strip("/").split("/") if p]
        if not parts:
            return _json(
                {"paths": ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/openapi/v3", "/version"]}
            )
        head = parts[0]
        if head == "version":
            return _json(KUBE_VERSION)
        if head in ("healthz", "readyz", "livez"):
            return web.Response(text="ok")
        if head == "openapi":
            return self._openapi(parts[1:])
        if head == "api":
            if len(parts) == 1:
                return _json(
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                        ],
                    }
                )
            if parts[1] != "v1":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return await self._resource_path("", "v1", parts[2:], request)
        if head == "apis":
            if len(parts) == 1:
                return _json(self._group_list())
            group = parts[1]
            if len(parts) == 2:
                if group != "apps":
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return _json(self._group_list()["groups"][0])
            if group != "apps" or parts[2] != "v1":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return await self._resource_path("apps", "v1", parts[3:], request)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    @staticmethod
    def _group_list() -> Obj:
        gv = {"groupVersion": "apps/v1", "version": "v1"}
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {"kind": "APIGroup", "apiVersion": "v1", "name": "apps", "versions": [gv], "preferredVersion": gv}
            ],
        }

    def _openapi(self, rest: list[str]) -> web.Response:
        """Just enough OpenAPI v3 for `kubectl apply`: the GVKs and a PATCH with a fieldValidation parameter."""
        if rest == ["v3"]:
            return _json(
                {
                    "paths": {
                        "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=sandbox1"},
                        "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=sandbox1"},
                    }
                }
            )
        if rest[:1] == ["v3"] and rest[1:] in (["api", "v1"], ["apis", "apps", "v1"]):
            group = "apps" if rest[1] == "apis" else ""
            return _json(_openapi_doc(group))
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    async def _resource_path(
        self, group: str, version: str, segs: list[str], request: web.Request
    ) -> web.StreamResponse:
        if not segs:
            if request.method != "GET":
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            return _json(discovery_list(group, version))
        ns: str | None = None
        if segs[0] == "namespaces" and len(segs) >= 3 and segs[2] not in ("status", "finalize"):
            ns, segs = segs[1], segs[2:]
        plural = segs[0]
        rtype = BY_PLURAL.get(plural)
        if rtype is None or rtype.group != group:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if ns is not None and not rtype.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = segs[1] if len(segs) > 1 else None
        sub = segs[2] if len(segs) > 2 else None
        if len(segs) > 3 or (sub is not None and sub not in rtype.subresources):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if rtype.namespaced and ns is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            return await self._collection(rtype, ns, request)
        if sub == "log":
            return self._log(ns, name, request)
        if sub == "eviction":
            return self._evict(ns, name, request)
        if sub == "scale":
            return await self._scale(rtype, ns, name, request)
        if sub == "finalize":
            with self.cluster.lock:
                return _json(self.cluster.read(rtype, ns, name))
        return await self._object(rtype, ns, name, sub, request)

    # ---- collections -------------------------------------------------------------------------------------

    async def _collection(self, rtype: ResourceType, ns: str | None, request: web.Request) -> web.StreamResponse:
        method = request.method
        if method == "GET":
            if _bool_param(request, "watch"):
                return await self._watch(rtype, ns, request)
            return self._list(rtype, ns, request)
        if method == "POST":
            if not rtype.namespaced or ns is not None:
                body = await _body(request)
                with self.cluster.lock:
                    obj = self.cluster.create(rtype, ns, body, dry_run=_dry_run(request))
                return _json(obj, 201)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if method == "DELETE":
            label = parse_label_selector(request.query.get("labelSelector"))
            field = parse_field_selector(request.query.get("fieldSelector"), rtype)
            dry = _dry_run(request)
            with self.cluster.lock:
                items, _, _, _ = self.cluster.list_raw(rtype, ns, label=label, field=field)
                for (item_ns, item_name), _obj in items:
                    with contextlib.suppress(ApiError):
                        self.cluster.delete(rtype, item_ns or None, item_name, dry_run=dry)
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _list(self, rtype: ResourceType, ns: str | None, request: web.Request) -> web.Response:
        label = parse_label_selector(request.query.get("labelSelector"))
        field = parse_field_selector(request.query.get("fieldSelector"), rtype)
        limit = _int_param(request, "limit") or 0
        cont = request.query.get("continue") or None
        table = _wants_table(request)
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
        timeout = _int_param(request, "timeoutSeconds") or _WATCH_TIMEOUT_DEFAULT
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
        table = _wants_table(request)
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
                if _wants_table(request):
                    body = {
                        "kind": "Table",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                        "columnDefinitions": column_definitions(rtype.plural),
                        "rows": [row(rtype.plural, obj, c.wall(), request.query.get("includeObject", "Metadata"))],
                    }
                    return _json(body)
                raw = c.encoded(rtype.plural, (ns or "", name), obj)
            return web.Response(body=raw, content_type="application/json")
        dry = _dry_run(request)
        if method == "PUT":
            body = await _body(request)
            with c.lock:
                return _json(c.replace(rtype, ns, name, body, dry_run=dry, subresource=sub))
        if method == "PATCH":
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype not in PATCH_TYPES:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: {', '.join(PATCH_TYPES)}",
                )
            patch = await _body(request)
            with c.lock:
                return _json(c.patch(rtype, ns, name, ctype, patch, dry_run=dry, subresource=sub))
        if method == "DELETE":
            if sub is not None:
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            opts = await _body(request)
            opts = opts if isinstance(opts, dict) else {}
            dry = dry or "All" in (opts.get("dryRun") or [])
            propagation = str(opts.get("propagationPolicy") or request.query.get("propagationPolicy") or "Background")
            with c.lock:
                gone = c.delete(
                    rtype, ns, name, dry_run=dry, propagation=propagation, preconditions=opts.get("preconditions")
                )
            if rtype.plural in ("pods", "services", "namespaces"):
                return _json(gone)
            return _json(
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

    async def _scale(self, rtype: ResourceType, ns: str | None, name: str, request: web.Request) -> web.Response:
        c = self.cluster
        method = request.method
        dry = _dry_run(request)
        if method == "GET":
            with c.lock:
                return _json(c.scale_of(rtype, c.read(rtype, ns, name)))
        if method in ("PUT", "PATCH"):
            body = await _body(request)
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
                return _json(c.set_scale(rtype, ns, name, body, dry_run=dry))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _evict(self, ns: str | None, name: str, request: web.Request) -> web.Response:
        """POST pods/NAME/eviction (kubectl drain). The body may be protobuf: only the URL and dryRun matter."""
        if request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        with self.cluster.lock:
            self.cluster.delete(BY_PLURAL["pods"], ns, name, dry_run=_dry_run(request))
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)

    def _log(self, ns: str | None, name: str, request: web.Request) -> web.Response:
        if request.method != "GET":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        # `follow=true` is served as a one-shot read: the sandbox's logs do not grow while you watch.
        c = self.cluster
        with c.lock:
            pod = c.read(BY_PLURAL["pods"], ns, name)
            text = render_logs(
                pod,
                container=request.query.get("container") or None,
                previous=_bool_param(request, "previous"),
                tail_lines=_int_param(request, "tailLines"),
                since_seconds=_int_param(request, "sinceSeconds"),
                since_time=request.query.get("sinceTime"),
                timestamps=_bool_param(request, "timestamps"),
                limit_bytes=_int_param(request, "limitBytes"),
                now=c.wall(),
            )
        return web.Response(text=text, content_type="text/plain")


def _openapi_doc(group: str) -> Obj:
    from tools.sandbox.resources import for_group_version

    paths: Obj = {}
    schemas: Obj = {}
    for r in for_group_version(group, "v1"):
        ref = f"io.k8s.api.{'apps' if group else 'core'}.v1.{r.kind}"
        gvk = [{"group": group, "version": "v1", "kind": r.kind}]
        schemas[ref] = {
            "type": "object",
            "x-kubernetes-group-version-kind": gvk,
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "data": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "x-kubernetes-preserve-unknown-fields": True,
        }
        prefix = "/api/v1" if not group else f"/apis/{group}/v1"
        path = (
            f"{prefix}/namespaces/{{namespace}}/{r.plural}/{{name}}"
            if r.namespaced
            else f"{prefix}/{r.plural}/{{name}}"
        )
        op = {
            "x-kubernetes-group-version-kind": gvk[0],
            "x-kubernetes-action": "patch",
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
                }
            },
        }
        get = {
            "x-kubernetes-group-version-kind": gvk[0],
            "x-kubernetes-action": "get",
            "responses": op["responses"],
        }
        paths[path] = {"get": get, "patch": op}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
