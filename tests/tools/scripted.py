"""A scripted K8s API server over real HTTP (for failure modes the sandbox cannot play), kubeconfigs for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from tools.k8s.client import KubeClients


@dataclass
class Scripted:
    """An HTTP server whose answer per (method, path) is scripted; it records every request."""

    url: str = ""
    answers: dict[tuple[str, str], Callable[[], web.StreamResponse]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # query strings, in the order of `seen`
    delay: float = 0.0

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.seen if (m, p) == (method, path))


def status(code: int, message: str, **details: str) -> Callable[[], web.StreamResponse]:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "message": message}
    if details:
        body["details"] = details
    return lambda: web.json_response(body, status=code)


def kubeconfig(path: Path, servers: dict[str, str], current: str) -> Path:
    clusters = "\n".join(f"- name: {n}\n  cluster: {{server: '{u}'}}" for n, u in servers.items())
    contexts = "\n".join(f"- name: {n}\n  context: {{cluster: {n}, user: u}}" for n in servers)
    path.write_text(
        f"apiVersion: v1\nkind: Config\nclusters:\n{clusters}\nusers:\n- name: u\n  user: {{token: t}}\n"
        f"contexts:\n{contexts}\ncurrent-context: {current}\n"
    )
    return path


@pytest.fixture
async def server() -> AsyncIterator[Scripted]:
    state = Scripted()

    async def handle(request: web.Request) -> web.StreamResponse:
        headers = {k: request.headers.getall(k) for k in set(request.headers.keys())}
        state.seen.append((request.method, request.path, headers))
        state.queries.append(request.query_string)
        if state.delay:
            await asyncio.sleep(state.delay)
        answer = state.answers.get((request.method, request.path))
        return answer() if answer else status(503, "the server is currently unable to handle the request")()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def kube(server: Scripted, tmp_path: Path) -> AsyncIterator[KubeClients]:
    path = kubeconfig(tmp_path / "kc", {"alpha": server.url, "beta": "http://127.0.0.1:9"}, current="alpha")
    k = KubeClients(kubeconfig=path, timeout_seconds=1.0)
    yield k
    await k.close()
