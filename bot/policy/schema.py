"""JSON Schema of a policy file (validated at start-up and by `kubeduty policy check`)."""

from __future__ import annotations

from typing import Any

_GLOBS: dict[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
_NAME: dict[str, Any] = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "maxLength": 64}
_MATCH: dict[str, Any] = {
    "verbs": _GLOBS,
    "tools": _GLOBS,
    "resources": _GLOBS,
    "namespaces": _GLOBS,
    "clusters": _GLOBS,
    "risks": _GLOBS,
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "description": {"type": "string"},
        "groups": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {"type": "array", "items": {"type": "string", "minLength": 1}},
        },
        "chat_groups": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {"type": "array", "items": {"type": "string", "minLength": 1}},
        },
        "roles": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rules"],
                "properties": {
                    "description": {"type": "string"},
                    "rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "anyOf": [{"required": ["verbs"]}, {"required": ["tools"]}],
                            "properties": {"name": _NAME, **_MATCH},
                        },
                    },
                },
            },
        },
        "bindings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["subjects", "chats"],
                "oneOf": [{"required": ["role"]}, {"required": ["roles"]}],
                "properties": {
                    "name": _NAME,
                    "role": _NAME,
                    "roles": {"type": "array", "items": _NAME, "minItems": 1},
                    "subjects": _GLOBS,
                    "chats": _GLOBS,
                },
            },
        },
        "deny": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "anyOf": [{"required": ["verbs"]}, {"required": ["tools"]}, {"required": ["resources"]}],
                "properties": {"name": _NAME, "subjects": _GLOBS, "chats": _GLOBS, **_MATCH},
            },
        },
        "approvals": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["approvers"],
                "properties": {
                    "name": _NAME,
                    "approvers": {"type": "array", "items": _NAME, "minItems": 1},
                    "count": {"type": "integer", "minimum": 1, "maximum": 5},
                    **_MATCH,
                },
            },
        },
        "impersonation": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["subjects", "user"],
                "properties": {
                    "subjects": _GLOBS,
                    "user": {"type": "string", "minLength": 1},
                    "groups": {"type": "array", "items": {"type": "string", "minLength": 1}},
                },
            },
        },
    },
}
