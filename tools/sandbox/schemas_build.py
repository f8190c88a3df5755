"""Regenerate `schemas-v1.32.json.gz` (the served kinds' OpenAPI schemas) from the kubernetes-validate dev package:

    .venv/bin/python -m tools.sandbox.schemas_build

Only definitions reachable from the kinds the sandbox serves are kept, with the keys `kubectl explain`, strict
field validation and strategic merge patch need. A dev-time tool: the sandbox reads only the generated file.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources as ir
from typing import Any

from tools.sandbox.resources import RESOURCES
from tools.sandbox.schemas import SCHEMA_FILE, definition_name

_KEEP = {
    "description",
    "type",
    "properties",
    "items",
    "$ref",
    "additionalProperties",
    "required",
    "format",
    "x-kubernetes-group-version-kind",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-unions",
}


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key == "type" and isinstance(value, list):
            kinds = [v for v in value if v != "null"]
            value = kinds[0] if len(kinds) == 1 else kinds
        elif key == "$ref":
            value = "#/components/schemas/" + str(value).rsplit("/", 1)[-1]
        elif key in ("properties",):
            value = {k: _clean(v) for k, v in value.items()}
        elif key.startswith("x-kubernetes-") or key in ("required", "format"):
            pass  # data, not schemas: kept as is
        else:
            value = _clean(value)
        out[key] = value
    if "oneOf" in node and "x-kubernetes-int-or-string" not in out:
        out["x-kubernetes-int-or-string"] = True
    return out


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def build() -> dict[str, Any]:
    base = ir.files("kubernetes_validate") / "kubernetes-json-schema" / "v1.32.0-local" / "_definitions.json"
    defs: dict[str, Any] = json.loads(base.read_text(encoding="utf-8"))["$defs"]
    todo = [definition_name(r.group, r.version, r.kind) for r in RESOURCES]
    todo += ["io.k8s.api.autoscaling.v1.Scale", "io.k8s.apimachinery.pkg.apis.meta.v1.Status"]
    keep: dict[str, Any] = {}
    while todo:
        name = todo.pop()
        if name in keep or name not in defs:
            continue
        keep[name] = _clean(defs[name])
        found: set[str] = set()
        _refs(defs[name], found)
        todo.extend(sorted(found))
    return dict(sorted(keep.items()))


if __name__ == "__main__":
    data = json.dumps(build(), separators=(",", ":"), sort_keys=True).encode()
    SCHEMA_FILE.write_bytes(gzip.compress(data, mtime=0))
    print(f"wrote {SCHEMA_FILE} ({len(data)} bytes of JSON)")
