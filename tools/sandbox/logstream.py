"""Container logs over HTTP: one-shot reads, and `follow=true` streams while time moves (live mode)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from tools.sandbox.cluster import Cluster
from tools.sandbox.errors import ApiError
from tools.sandbox.httpio import bool_param, int_param
from tools.sandbox.logs import follow_line, render_logs
from tools.sandbox.resources import BY_PLURAL

FOLLOW_EVERY_SECONDS = 2.0  # a followed container prints a line this often (divided by the cluster's speed)


async def serve_log(cluster: Cluster, ns: str | None, name: str, request: web.Request) -> web.StreamResponse:
    if request.method != "GET":
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    # `follow=true` streams while time moves (live); frozen, nothing more would come, so it ends at once.
    c = cluster
    with c.lock:
        pod = c.read(BY_PLURAL["pods"], ns, name)
        text = render_logs(
            pod,
            container=request.query.get("container") or None,
            previous=bool_param(request, "previous"),
            tail_lines=int_param(request, "tailLines"),
            since_seconds=int_param(request, "sinceSeconds"),
            since_time=request.query.get("sinceTime"),
            timestamps=bool_param(request, "timestamps"),
            limit_bytes=int_param(request, "limitBytes"),
            now=c.wall(),
        )
        live = c.live
    if not (live and bool_param(request, "follow")):
        return web.Response(text=text, content_type="text/plain")
    return await _follow(cluster, ns, name, request, text)


async def _client_waits(request: web.Request, seconds: float) -> bool:
    """Sleep `seconds`; False as soon as the client has closed the connection."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        await asyncio.sleep(min(0.1, left))
    return True


async def _follow(cluster: Cluster, ns: str | None, name: str, request: web.Request, text: str) -> web.StreamResponse:
    c = cluster
    resp = web.StreamResponse(headers={"Content-Type": "text/plain", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    await resp.write(text.encode())
    with c.lock:
        pod = c.read(BY_PLURAL["pods"], ns, name)
    container = request.query.get("container") or str(pod["spec"]["containers"][0]["name"])
    uid = pod["metadata"].get("uid")
    timestamps = bool_param(request, "timestamps")
    counter = 0
    try:
        while True:
            if not await _client_waits(request, max(0.1, FOLLOW_EVERY_SECONDS / c.speed)):
                break  # the follower hung up: the handler ends now, not at its next write
            with c.lock:
                pod_now = c.peek("pods", ns, name)
                if pod_now is None or pod_now["metadata"].get("uid") != uid:
                    break  # the pod is gone: kubectl's stream ends too
                line = follow_line(pod_now, container, counter, c.wall(), timestamps=timestamps)
            if line is None:
                break
            await resp.write(line.encode())
            counter += 1
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await resp.write_eof()
    return resp
