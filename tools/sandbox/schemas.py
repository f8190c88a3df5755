"""The served kinds' real schemas (Kubernetes v1.32, from `schemas-v1.32.json.gz`, see schemas_build.py):
OpenAPI v3 documents for `kubectl explain` / `apply`, and strict field validation (unknown fields)."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("schemas-v1.32.json.gz")
_PACKAGES = {
    "": "core",
    "apps": "apps",
    "batch": "batch",
    "autoscaling": "autoscaling",
    "rbac.authorization.k8s.io": "rbac",
    "authorization.k8s.io": "authorization",
    "authentication.k8s.io": "authentication",
    "networking.k8s.io": "networking",
    "discovery.k8s.io": "discovery",
    "policy": "policy",
}
_REF = "#/components/schemas/"
Obj = dict[str, Any]


def definition_name(group: str, version: str, kind: str) -> str:
    return f"io.k8s.api.{_PACKAGES.get(group, group.split('.')[0])}.{version}.{kind}"


@functools.cache
def definitions() -> dict[str, Obj]:
    try:
        data: dict[str, Obj] = json.loads(gzip.decompress(SCHEMA_FILE.read_bytes()))
    except (OSError, ValueError):
        return {}  # without the data file: a permissive OpenAPI, and no strict validation
    return data


def _resolve(schema: Obj) -> Obj:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        return definitions().get(ref[len(_REF) :], {})
    return schema


def unknown_fields(group: str, version: str, kind: str, body: Any) -> list[str]:
    """Paths of fields the kind does not have (`spec.replica`, `spec.template.spec.containers[0].imagee`), as
    the real server's strict decoding reports them. Patch directives (`$patch`, `$setElementOrder/...`) pass."""
    schema = definitions().get(definition_name(group, version, kind))
    if schema is None:
        return []
    found: list[str] = []
    _walk(schema, body, "", found)
    return found


def _walk(schema: Obj, value: Any, path: str, found: list[str]) -> None:
    schema = _resolve(schema)
    if schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string"):
        return
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key.startswith("$"):
                continue
            if props is not None and key in props:
                _walk(props[key], item, f"{path}.{key}" if path else key, found)
            elif isinstance(extra, dict):
                _walk(extra, item, f"{path}.{key}" if path else key, found)
            elif props is not None:
                found.append(f"{path}.{key}" if path else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk(schema["items"], item, f"{path}[{i}]", found)


@functools.cache
def swagger_v2() -> bytes:
    """/openapi/v2 (Swagger 2.0): kubectl validates `kind: List` files against it."""
    defs = json.dumps(definitions(), separators=(",", ":")).replace(_REF, "#/definitions/")
    head = json.dumps({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": {}})
    return (head[:-1] + ',"definitions":' + defs + "}").encode()


def openapi_doc(group: str, version: str, served: list[tuple[str, str, bool]]) -> Obj:
    """An OpenAPI v3 document for one group/version: every kept schema (explain follows references) and a
    get/patch path per served kind (kubectl apply reads the PATCH's fieldValidation parameter)."""
    schemas: Obj = dict(definitions())
    paths: Obj = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for kind, plural, namespaced in served:
        name = definition_name(group, version, kind)
        gvk = {"group": group, "version": version, "kind": kind}
        if name not in schemas:
            schemas[name] = {
                "type": "object",
                "x-kubernetes-group-version-kind": [gvk],
                "x-kubernetes-preserve-unknown-fields": True,
            }
        path = f"{prefix}/namespaces/{{namespace}}/{plural}/{{name}}" if namespaced else f"{prefix}/{plural}/{{name}}"
        responses = {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": _REF + name}}}}}
        paths[path] = {
            "get": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get", "responses": responses},
            "patch": {
                "x-kubernetes-group-version-kind": gvk,
                "x-kubernetes-action": "patch",
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                ],
                "responses": responses,
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
