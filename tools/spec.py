"""What a tool is: typed parameters, typed result, read or mutate, risk. Shared by the catalogue, the bot
(in-process calls) and the MCP server adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel


class Risk(StrEnum):
    READ = "read"  # no change to the cluster
    LOW = "low"  # reversible, small blast radius (cordon, restart one pod)
    MEDIUM = "medium"  # changes capacity or rolls workloads (scale, rollout restart, rollback)
    HIGH = "high"  # destructive or hard to undo


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # bad argument (not DNS-1123, out of range)
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"  # cluster unreachable / timed out
    FAILED = "failed"  # anything else the API said


class ToolFailure(Exception):
    """Raised by a tool for an expected failure; carries the upstream message so the caller (or LLM) can correct."""

    def __init__(self, code: ErrorCode, message: str, *, upstream: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.upstream = upstream


P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class ToolSpec(Generic[P, R]):
    name: str
    title_en: str
    title_zh: str
    description: str  # for LLMs and MCP clients: when to use it, in English
    params: type[P]
    result: type[R]
    run: Callable[[Any, P], Awaitable[R]]  # (KubeContext, params) -> result
    mutates: bool = False
    risk: Risk = Risk.READ
    verb: str = "get"  # RBAC-style verb: get, list, logs, scale, restart, rollback, delete, cordon ...
    resource: str = ""  # pods, deployments, nodes, namespaces, events ...
    idempotent: bool = True
    destructive: bool = False

    def input_schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.result.model_json_schema()
