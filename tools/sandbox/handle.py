"""Run the sandbox server in a thread of its own (own event loop) and hand back a handle."""

from __future__ import annotations

import asyncio
import atexit
import base64
import functools
import logging
import shutil
import ssl
import tempfile
import threading
from pathlib import Path

import yaml
from aiohttp import web

from tools.sandbox import timeflow
from tools.sandbox.auth import ADMIN_TOKEN, Authenticator
from tools.sandbox.cluster import Cluster
from tools.sandbox.rbac_seed import load_manifests
from tools.sandbox.resources import lookup
from tools.sandbox.seed import build
from tools.sandbox.server import SandboxServer
from tools.sandbox.timeflow import TICK_SECONDS
from tools.sandbox.tls import CertificateAuthority, KeyPair, server_context

log = logging.getLogger(__name__)


@functools.cache
def _shared_pki() -> tuple[CertificateAuthority, ssl.SSLContext, Path]:
    """One CA, server certificate and TLS context per process: every sandbox of a test run trusts the same CA,
    which saves ~30 ms per start (a client certificate from one sandbox therefore also works on another)."""
    ca = CertificateAuthority()
    directory = Path(tempfile.mkdtemp(prefix="kubeduty-sandbox-pki-"))
    atexit.register(shutil.rmtree, directory, True)
    return ca, server_context(ca, ca.server_pair(), directory), directory / "ca.crt"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(
    url: str,
    context: str = "sandbox",
    namespace: str = "default",
    *,
    ca_pem: bytes | None = None,
    token: str | None = ADMIN_TOKEN,
    token_file: Path | None = None,
    client: KeyPair | None = None,
) -> dict[str, object]:
    """A kubeconfig for one sandbox: the CA (for https) and one way to log in (token, token file or certificate)."""
    cluster: dict[str, object] = {"server": url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = _b64(ca_pem)
    user: dict[str, object] = {}
    if client is not None:
        user = {"client-certificate-data": _b64(client.cert_pem), "client-key-data": _b64(client.key_pem)}
    elif token_file is not None:
        user = {"tokenFile": str(token_file)}
    elif token:
        user = {"token": token}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }


def multi_kubeconfig(
    urls: dict[str, str] | dict[str, SandboxHandle], current: str, namespace: str = "default"
) -> dict[str, object]:
    """One kubeconfig with a context per sandbox (name -> handle, or a plain-HTTP URL): how a multi-cluster
    user's kubeconfig looks."""
    docs = [
        kubeconfig(target, name, namespace)
        if isinstance(target, str)
        else kubeconfig(target.url, name, namespace, ca_pem=target.ca_pem)
        for name, target in urls.items()
    ]
    merged: dict[str, object] = {"apiVersion": "v1", "kind": "Config", "current-context": current, "preferences": {}}
    for key in ("clusters", "users", "contexts"):
        merged[key] = [item for doc in docs for item in doc[key]]  # type: ignore[attr-defined]
    return merged


class SandboxHandle:
    """A running sandbox: `url`, `kubeconfig_path`, `cluster` (thread-safe state helpers), `stop()`."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        users_file: Path | None = None,
    ) -> None:
        self.cluster = cluster
        self.auth = Authenticator(users_file)
        self.server = SandboxServer(cluster, self.auth)
        self.ca: CertificateAuthority | None = _shared_pki()[0] if tls else None
        self._ssl: ssl.SSLContext | None = None
        self._ticker: asyncio.Task[None] | None = None
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
        if self.ca is not None:
            self._ssl = _shared_pki()[1]
        self._runner = web.AppRunner(self.server.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._want_port, ssl_context=self._ssl)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self._want_port
        self.server.port = self.port
        self._site = site
        self.cluster.on_listening = self._set_listening
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        """The kubelet's clock for live mode; a no-op while time is frozen."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if self.cluster.live:
                try:
                    with self.cluster.lock:
                        timeflow.tick(self.cluster)
                except Exception:  # a bug in one tick must not stop time for good
                    log.exception("sandbox: time tick failed")

    def _set_listening(self, listening: bool) -> None:
        if self._stopped or not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._toggle(listening), self._loop)
        if threading.current_thread() is not self._thread:
            future.result(timeout=10)

    async def _toggle(self, listening: bool) -> None:
        assert self._runner is not None
        if listening and self._site is None:
            site = web.TCPSite(self._runner, self._host, self.port, ssl_context=self._ssl)
            await site.start()
            self._site = site
        elif not listening and self._site is not None:
            await self._site.stop()
            self._site = None
            server = self._runner.server
            for conn in server.connections if server is not None else []:
                conn.force_close()  # keep-alive clients must see the outage too

    async def _shutdown(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
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
        self.url = f"{'https' if self.ca is not None else 'http'}://{self._host}:{self.port}"
        self.write_kubeconfig(self.kubeconfig_path)
        return self

    @property
    def ca_pem(self) -> bytes | None:
        return self.ca.cert_pem if self.ca is not None else None

    @property
    def ca_path(self) -> Path | None:
        """The CA certificate as a file (for curl --cacert, ssl contexts); None over plain HTTP."""
        return _shared_pki()[2] if self.ca is not None else None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client-side context trusting this sandbox's CA (None over plain HTTP), for raw HTTP tests."""
        if self.ca is None:
            return None
        return ssl.create_default_context(cadata=self.ca.cert_pem.decode())

    def client_certificate(self, user: str, groups: tuple[str, ...] = ()) -> KeyPair:
        if self.ca is None:
            raise RuntimeError("client certificates need the TLS sandbox (tls=True)")
        return self.ca.client_pair(user, groups)

    def write_kubeconfig(
        self,
        path: Path | str,
        context: str = "sandbox",
        namespace: str = "default",
        *,
        token: str | None = ADMIN_TOKEN,
        token_file: Path | None = None,
        client: KeyPair | None = None,
    ) -> Path:
        """A kubeconfig for this sandbox; by default as sandbox-admin (cluster-admin) with the admin token."""
        doc = kubeconfig(
            self.url, context, namespace, ca_pem=self.ca_pem, token=token, token_file=token_file, client=client
        )
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(doc, sort_keys=False))
        return target

    def grant(
        self, *, user: str | None = None, group: str | None = None, role: str = "edit", namespace: str | None = None
    ) -> str:
        """Bind a ClusterRole (edit, view, admin, cluster-admin ...) to a user or group, in one namespace or
        everywhere: a one-liner for tests whose impersonated identities need rights. Returns the binding name."""
        subjects = [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}
            for kind, name in (("User", user), ("Group", group))
            if name
        ]
        if not subjects:
            raise ValueError("grant needs a user or a group")
        name = f"sandbox-grant-{role}-{(user or group or '').replace(':', '-')}".lower()
        meta: dict[str, object] = {"name": name}
        if namespace:
            meta["namespace"] = namespace
        self.cluster.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
                "metadata": meta,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": subjects,
            }
        )
        return name

    def load_manifests(self, path: Path) -> list[str]:
        """Apply every object of a YAML file/directory the sandbox serves (RBAC, service accounts ...) as-is;
        returns `kind/name` of what was loaded. Kinds it does not serve are skipped and listed as `-kind/name`."""
        loaded: list[str] = []
        for doc in load_manifests(Path(path)):
            name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            if lookup(str(doc.get("kind"))) is None:
                loaded.append(f"-{name}")
                continue
            self.cluster.apply(doc)
            loaded.append(name)
        return loaded

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
    tls: bool = True,
    users_file: Path | None = None,
    manifests: Path | None = None,
    live: bool = False,
    speed: float = 1.0,
) -> SandboxHandle:
    """Seed a cluster and serve it on `host:port` (0 = any free port) from a background thread: https with a
    fresh CA by default (`tls=False`: plain HTTP), identities from `users_file`, and extra objects (e.g. the
    deploy RBAC) loaded from `manifests` before it listens. `live=True` lets time move (timeflow.py); tests
    get a frozen world unless they ask, so statuses they assert on cannot change under them."""
    state = cluster if cluster is not None else build(seed, namespaces=namespaces, pods=pods)
    handle = SandboxHandle(state, host=host, port=port, tls=tls, users_file=users_file)
    if manifests is not None:
        handle.load_manifests(manifests)
    state.set_live(live, speed=speed)
    return handle.start()
