"""A followed container log (`kubectl logs -f`): the API's streaming read, line by line, redacted.

The one streaming read of the catalogue's cluster access. The caller (the bot's live log card) decides how long
to follow and checks the policy first (a follow is the `pod_logs` read, kept open); this module only opens the
stream, yields lines as they come and closes it. Lines are masked like every `pod_logs` result (`tools.redact`),
cut at the same length, and the stream ends when the server ends it (the container exited, the pod is gone).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from tools.k8s import convert as cv
from tools.k8s.reads import MAX_LINE
from tools.redact import mask_text
from tools.spec import ErrorCode, ToolFailure

if TYPE_CHECKING:
    from tools.k8s.client import KubeClients

CONNECT_SECONDS = 10.0  # to open the stream
MAX_PENDING_BYTES = 1 << 20  # a line longer than this (no newline) is cut: the buffer never grows without bound


def _line(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if len(text) > MAX_LINE:
        text = text[:MAX_LINE] + cv.TRUNC
    return mask_text(text)


async def follow_log(
    kube: KubeClients,
    *,
    namespace: str,
    pod: str,
    container: str | None = None,
    cluster: str | None = None,
    since_seconds: int | None = None,
    max_seconds: float = 3600.0,
) -> AsyncGenerator[str, None]:
    """New lines of a container's log as the API streams them (`follow=true`, no old lines unless
    `since_seconds`). Raises `ToolFailure` when the stream cannot be opened; ends when the server ends it.
    `max_seconds` is the request's whole-life timeout: the caller stops earlier, this only bounds a leak."""
    ctx = await kube.context(cluster)
    kwargs: dict[str, Any] = {"follow": True, "tail_lines": 0}
    if container:
        kwargs["container"] = container
    if since_seconds:
        kwargs["since_seconds"] = since_seconds
        del kwargs["tail_lines"]
    try:
        opened = await asyncio.wait_for(
            ctx.core.read_namespaced_pod_log_without_preload_content(
                pod, namespace, _request_timeout=max_seconds, **kwargs
            ),
            CONNECT_SECONDS,
        )
    except Exception as exc:  # every failure to open becomes a typed, reportable failure
        status = getattr(exc, "status", None)
        code = ErrorCode.NOT_FOUND if status == 404 else ErrorCode.UNAVAILABLE
        raise ToolFailure(code, f"could not follow the log of pod '{pod}': {exc}", upstream=str(exc)) from exc
    resp = getattr(opened, "response", opened)  # the aiohttp response under the client's wrapper
    try:
        if int(resp.status) >= 400:
            body = (await resp.read()).decode("utf-8", errors="replace")[:300]
            code = ErrorCode.NOT_FOUND if int(resp.status) == 404 else ErrorCode.INVALID
            raise ToolFailure(code, f"could not follow the log of pod '{pod}': {body}", upstream=body)
        pending = b""
        async for chunk in resp.content.iter_any():
            pending += chunk
            *whole, pending = pending.split(b"\n")
            for raw in whole:
                yield _line(raw)
            if len(pending) > MAX_PENDING_BYTES:
                yield _line(pending)
                pending = b""
        if pending:
            yield _line(pending)
    finally:
        resp.release()
        resp.close()
