"""Run the sandbox server in a thread of its own (own event loop) and hand back a handle."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from pathlib import Path

import yaml
from aiohttp import web

from tools.sandbox.cluster import Cluster
from tools.sandbox.seed import build
from tools.sandbox.server import SandboxServer


def kubeconfig(url: str, context: str = "sandbox", namespace: str = "default") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": context, "user": {"token": "sandbox-token"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }


def multi_kubeconfig(urls: dict[str, str], current: str, namespace: str = "default") -> dict[str, object]:
    """One kubeconfig with a context per sandbox (name -> URL): how a multi-cluster user's kubeconfig looks."""
    docs = [kubeconfig(url, name, namespace) for name, url in urls.items()]
    merged: dict[str, object] = {"apiVersion": "v1", "kind": "Config", "current-context": current, "preferences": {}}
    for key in ("clusters", "users", "contexts"):
        merged[key] = [item for doc in docs for item in doc[key]]  # type: ignore[attr-defined]
    return merged


class SandboxHandle:
    """A running sandbox: `url`, `kubeconfig_path`, `cluster` (thread-safe state helpers), `stop()`."""

    def __init__(self, cluster: Cluster, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.cluster = cluster
        self.server = SandboxServer(cluster)
        self._host = host
        self._want_port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped = False
        self._error: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._thread = threading.Thread(target=self._run, name="kubeduty-sandbox", daemon=True)
        self._tmp = Path(tempfile.mkdtemp(prefix="kubeduty-sandbox-"))
        self.port = 0
        self.url = ""
        self.kubeconfig_path = self._tmp / "kubeconfig"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread, which re-raises it
            self._error = exc
            self._loop.close()
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._shutdown())
        self._loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.server.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._want_port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self._want_port
        self.server.port = self.port
        self._site = site
        self.cluster.on_listening = self._set_listening

    def _set_listening(self, listening: bool) -> None:
        if self._stopped or not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._toggle(listening), self._loop)
        if threading.current_thread() is not self._thread:
            future.result(timeout=10)

    async def _toggle(self, listening: bool) -> None:
        assert self._runner is not None
        if listening and self._site is None:
            site = web.TCPSite(self._runner, self._host, self.port)
            await site.start()
            self._site = site
        elif not listening and self._site is not None:
            await self._site.stop()
            self._site = None
            server = self._runner.server
            for conn in server.connections if server is not None else []:
                conn.force_close()  # keep-alive clients must see the outage too

    async def _shutdown(self) -> None:
        self.cluster.end_watches()
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> SandboxHandle:
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            self._stopped = True
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise RuntimeError(f"the sandbox server could not start: {self._error}") from self._error
        self.url = f"http://{self._host}:{self.port}"
        self.write_kubeconfig(self.kubeconfig_path)
        return self

    def write_kubeconfig(self, path: Path | str, context: str = "sandbox", namespace: str = "default") -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(kubeconfig(self.url, context, namespace), sort_keys=False))
        return target

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox_thread(
    seed: str = "demo",
    port: int = 0,
    *,
    namespaces: int = 10,
    pods: int = 1000,
    host: str = "127.0.0.1",
    cluster: Cluster | None = None,
) -> SandboxHandle:
    """Seed a cluster and serve it on `host:port` (0 = any free port) from a background thread."""
    state = cluster if cluster is not None else build(seed, namespaces=namespaces, pods=pods)
    handle = SandboxHandle(state, host=host, port=port)
    return handle.start()
