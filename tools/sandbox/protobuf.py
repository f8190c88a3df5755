"""Just enough of the Kubernetes protobuf encoding to read the review objects kubectl sends that way.

`kubectl auth can-i` / `auth whoami` post their reviews as protobuf (magic `k8s\\0` + a `runtime.Unknown`
envelope); the sandbox otherwise speaks JSON only. Field numbers are upstream's generated.proto.
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"
Obj = dict[str, Any]
# message -> field number -> (json name, nested message or None for a string)
_SCHEMAS: dict[str, dict[int, tuple[str, str | None]]] = {
    "Unknown": {
        1: ("typeMeta", "TypeMeta"),
        2: ("raw", "bytes"),
        3: ("contentEncoding", None),
        4: ("contentType", None),
    },
    "TypeMeta": {1: ("apiVersion", None), 2: ("kind", None)},
    "SelfSubjectAccessReview": {2: ("spec", "SelfSubjectAccessReviewSpec")},
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResource"),
    },
    "ResourceAttributes": {
        1: ("namespace", None),
        2: ("verb", None),
        3: ("group", None),
        4: ("version", None),
        5: ("resource", None),
        6: ("subresource", None),
        7: ("name", None),
    },
    "NonResource": {1: ("path", None), 2: ("verb", None)},
    "SelfSubjectRulesReview": {2: ("spec", "SelfSubjectRulesReviewSpec")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", None)},
    "SelfSubjectReview": {},
}
DECODABLE = frozenset({"SelfSubjectAccessReview", "SelfSubjectRulesReview", "SelfSubjectReview"})


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> list[tuple[int, bytes | int]]:
    out: list[tuple[int, bytes | int]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _message(data: bytes, schema: str) -> Obj:
    out: Obj = {}
    fields = _SCHEMAS[schema]
    for number, value in _fields(data):
        if number not in fields or not isinstance(value, bytes):
            continue
        name, nested = fields[number]
        if nested == "bytes":
            out[name] = value
        elif nested is None:
            out[name] = value.decode("utf-8", errors="replace")
        else:
            out[name] = _message(value, nested)
    return out


def decode(body: bytes, kind: str) -> Obj:
    """The JSON form of a protobuf-encoded `kind` (one of DECODABLE)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = _message(body[len(MAGIC) :], "Unknown")
    type_meta = envelope.get("typeMeta") or {}
    if type_meta.get("kind") and type_meta["kind"] != kind:
        raise ProtobufError(f"the body is a {type_meta['kind']}, expected {kind}")
    obj = _message(envelope.get("raw") or b"", kind)
    obj["kind"] = kind
    if type_meta.get("apiVersion"):
        obj["apiVersion"] = type_meta["apiVersion"]
    return obj
