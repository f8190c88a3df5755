"""HTTP plumbing shared by the server's handlers: JSON answers, query parameters, bodies, field validation."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tools.sandbox.errors import ApiError, bad_request
from tools.sandbox.patch import PATCH_TYPES
from tools.sandbox.protobuf import DECODABLE, ProtobufError, decode
from tools.sandbox.resources import ResourceType
from tools.sandbox.schemas import unknown_fields


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type="application/json"
    )


def error_response(exc: ApiError) -> web.Response:
    return json_response(exc.status(), exc.code)


def wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {raw!r} is not an integer") from exc


def bool_param(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def dry_run_param(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


JSON_ONLY = (
    "the body of the request was in an unknown format - accepted media types include: application/json, "
    + ", ".join(PATCH_TYPES)
    + " (the sandbox API server speaks JSON only, not protobuf: generator commands such as "
    "`kubectl create deployment|namespace` and `kubectl drain` need a real cluster; "
    "use `kubectl apply -f` / `kubectl create -f` with a manifest)"
)


async def read_body(request: web.Request, *, kind: str = "") -> Any:
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if "protobuf" in ctype and kind in DECODABLE:
        try:
            return decode(await request.read(), kind)
        except ProtobufError as exc:
            raise bad_request(f"cannot decode the protobuf body: {exc}") from exc
    if "protobuf" in ctype or "yaml" in ctype:
        raise ApiError(415, "UnsupportedMediaType", JSON_ONLY)
    raw = await request.read()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from exc


PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
NO_CONTAINERS = (
    "the sandbox has no real containers: {what} is not available (use `kubectl logs`, `describe` and events)"
)


def no_route() -> ApiError:
    # `details` present (empty), as the real server sends it: kubectl debug dereferences it.
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def check_fields(request: web.Request, rtype: ResourceType, body: Any) -> list[str]:
    """fieldValidation: Strict refuses unknown fields (400, the real message); Warn/Ignore keep them stored and
    Warn names them in Warning headers (a real server drops them)."""
    mode = request.query.get("fieldValidation", "Warn")
    if mode not in ("Strict", "Warn", "Ignore"):
        raise bad_request(f'fieldValidation: Unsupported value: "{mode}": supported values: "Ignore", "Strict", "Warn"')
    if mode == "Ignore" or not isinstance(body, dict):
        return []
    unknown = unknown_fields(rtype.group, rtype.version, rtype.kind, body)
    if unknown and mode == "Strict":
        fields = ", ".join(f'unknown field "{u}"' for u in unknown)
        raise bad_request(
            f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
            f"strict decoding error: {fields}"
        )
    return [f'299 - "unknown field \\"{u}\\""' for u in unknown]


def with_warnings(resp: web.Response, warnings: list[str]) -> web.Response:
    for w in warnings:
        resp.headers.add("Warning", w)
    return resp
