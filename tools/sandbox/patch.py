"""JSON patch (RFC 6902), merge patch (RFC 7386) and a simple strategic merge patch.

Strategic merge is kept to what kubectl and the kubernetes client send for the kinds served here: merge
semantics, lists of objects merged by their merge key (name for containers/env/volumes, containerPort for
container ports, ...), `$patch: delete|replace` on list items and maps, `$setElementOrder/...` (the merged
list takes the given order, unlisted items after), `$retainKeys` and `$deleteFromPrimitiveList/...` honoured.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """A patch that cannot apply: the server answers 422 (or 400 for malformed patches)."""


# Merge keys of the lists the built-in kinds declare with patchStrategy=merge.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "taints": "key",
    "topologySpreadConstraints": "topologyKey",
}


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        # Container ports merge by containerPort, service ports by port.
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port" if "port" in sample else None
    return _MERGE_KEYS.get(field)


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    if isinstance(patch, list):
        return _strategic_list(target if isinstance(target, list) else [], patch, field)
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            drop = set(map(repr, v or []))
            result[name] = [x for x in result.get(name) or [] if repr(x) not in drop]
            continue
        if k.startswith("$"):
            continue
        if v is None:
            result.pop(k, None)
        else:
            merged = strategic_merge_patch(result.get(k), v, k)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
    for k, order in patch.items():
        if k.startswith("$setElementOrder/") and isinstance(order, list):
            name = k.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = _ordered(result[name], order, _merge_key(name, order + result[name]))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _ordered(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """`$setElementOrder`: items named in `order` first, in that order; the others keep their relative order."""

    def ident(item: Any) -> Any:
        return repr(item.get(key)) if key and isinstance(item, dict) else repr(item)

    rank = {ident(o): i for i, o in enumerate(order)}
    listed = sorted((i for i in items if ident(i) in rank), key=lambda i: rank[ident(i)])
    return listed + [i for i in items if ident(i) not in rank]


def _strategic_list(target: list[Any], patch: list[Any], field: str) -> list[Any]:
    key = _merge_key(field, patch + target)
    if key is None or not all(isinstance(p, dict) for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and p.get("$patch"))]
    result = [copy.deepcopy(t) for t in target]
    for p in patch:
        if p.get("$patch") == "replace":
            return [copy.deepcopy({k: v for k, v in q.items() if k != "$patch"}) for q in patch]
        idx = next((i for i, t in enumerate(result) if isinstance(t, dict) and t.get(key) == p.get(key)), None)
        if p.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            result.append({k: copy.deepcopy(v) for k, v in p.items() if not k.startswith("$")})
        else:
            result[idx] = strategic_merge_patch(result[idx], p, field)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parse_pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [_unescape(t) for t in path[1:].split("/")]


def _walk(doc: Any, tokens: list[str]) -> Any:
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(f"path not found: /{'/'.join(tokens)}")
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError) as exc:
                raise PatchError(f"path not found: /{'/'.join(tokens)}") from exc
        else:
            raise PatchError(f"path not found: /{'/'.join(tokens)}")
    return cur


def _get(doc: Any, path: str) -> Any:
    return _walk(doc, _parse_pointer(path))


def _remove(doc: Any, path: str) -> Any:
    tokens = _parse_pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError) as exc:
            raise PatchError(f"unable to remove index {last}") from exc
    raise PatchError(f"path not found: {path}")


def _add(doc: Any, path: str, value: Any, replace: bool) -> Any:
    tokens = _parse_pointer(path)
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path}: missing value")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError as exc:
                raise PatchError(f"invalid array index {last!r}") from exc
            if replace:
                if not 0 <= i < len(parent):
                    raise PatchError(f"replace operation does not apply: index out of range: {path}")
                parent[i] = value
            else:
                if not 0 <= i <= len(parent):
                    raise PatchError(f"add operation does not apply: index out of range: {path}")
                parent.insert(i, value)
    else:
        raise PatchError(f"path not found: {path}")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=False)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "move":
            value = _remove(doc, op["from"])
            doc = _add(doc, path, value, replace=False)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])), replace=False)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"unexpected JSON patch operation {kind!r}")
    return doc


JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"  # server-side apply (handled by the server: create or merge)
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


def apply_patch(content_type: str, doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    if content_type == JSON_PATCH:
        result = json_patch(doc, patch)
    elif content_type == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise PatchError("a merge patch must be a JSON object")
        result = merge_patch(doc, patch)
    else:
        if not isinstance(patch, dict):
            raise PatchError("a strategic merge patch must be a JSON object")
        result = strategic_merge_patch(doc, patch)
    if not isinstance(result, dict):
        raise PatchError("the patch did not produce an object")
    return result
