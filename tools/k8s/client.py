"""Access to Kubernetes clusters: the only module importing `kubernetes` (its asyncio flavour).

One lazily created `ApiClient` per kubeconfig context. Every call has a timeout; reads are retried on transient
failures (connection errors, 5xx, 429) with a short exponential backoff; writes are never retried, because a
write whose answer was lost may have happened. API errors become `ToolFailure` with an `ErrorCode` and the
upstream message.

Responses are read as raw JSON (the `*_without_preload_content` methods): the generated pydantic models validate
strictly and slowly, and a single odd object from a real cluster would otherwise fail a whole list.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import json
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

import yaml
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from tools.k8s.models import ClusterInfo
from tools.k8s.rawapi import RawAppsV1Api, RawCoreV1Api, RawVersionApi
from tools.spec import ErrorCode, ToolFailure


class _LazyModule:
    """A module imported on first attribute access: listing the tools (`kubeduty mcp serve`, the catalogue)
    imports this module but needs none of the kubernetes client or aiohttp (seconds of imports)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)


if TYPE_CHECKING:
    import aiohttp
    from kubernetes.aio import client as k8s
    from kubernetes.aio import config as k8s_config
else:
    aiohttp = _LazyModule("aiohttp")
    k8s = _LazyModule("kubernetes.aio.client")
    k8s_config = _LazyModule("kubernetes.aio.config")

__all__ = ["IN_CLUSTER", "Impersonation", "KubeClients", "KubeContext", "status_failure", "warm_up"]

IN_CLUSTER = "in-cluster"  # the cluster's name when running in a pod without a kubeconfig

# Impersonation travels with the running task (contextvar) and is added to the request by an aiohttp trace
# hook: the generated client collapses headers to a dict, which cannot carry several Impersonate-Group headers.
_IMPERSONATE: contextvars.ContextVar[Impersonation | None] = contextvars.ContextVar("kd_impersonate", default=None)


@dataclass(frozen=True, slots=True)
class Impersonation:
    user: str
    groups: tuple[str, ...] = ()


async def _add_impersonation(_session: object, _ctx: SimpleNamespace, params: Any) -> None:
    imp = _IMPERSONATE.get()
    if imp is None:
        return
    params.headers["Impersonate-User"] = imp.user
    for group in imp.groups:
        params.headers.add("Impersonate-Group", group)


def _trace_config() -> aiohttp.TraceConfig:
    tc = aiohttp.TraceConfig()
    tc.on_request_start.append(_add_impersonation)
    return tc


# What the first tool call needs: the API client, its configuration loader and aiohttp. The generated API classes
# (~0.6 s of CPU: ~300 pydantic models and `validate_call` on every method) are not among them: the calls go
# through `tools.k8s.rawapi`, which loads a generated class only for a method its table lacks.
_API_MODULES = (
    ("kubernetes.aio.client.api_client", "ApiClient"),
    ("kubernetes.aio.config", "load_kube_config"),
    ("aiohttp", "TraceConfig"),
)


_WARM = threading.Event()  # set once the API classes are loaded (per process, whichever loop asked)


def warm_up() -> None:
    """Load what the first tool call needs. Blocking: run it in a thread (`KubeClients.warm_up`)."""
    for module, name in _API_MODULES:
        getattr(importlib.import_module(module), name)
    _WARM.set()


class _HttpError(Exception):
    """A non-2xx answer read from a raw response (internal; mapped to ToolFailure)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _HttpError):
        return exc.status == 429 or exc.status >= 500
    if isinstance(exc, k8s.ApiException):
        return exc.status in (0, 429) or (exc.status or 0) >= 500
    return isinstance(exc, aiohttp.ClientConnectionError | asyncio.TimeoutError | ConnectionError)


_KIND_WORDS = {
    "namespaces": "namespace",
    "pods": "pod",
    "deployments": "deployment",
    "statefulsets": "statefulset",
    "replicasets": "replicaset",
    "nodes": "node",
    "services": "service",
    "events": "event",
    "daemonsets": "daemonset",
}


def status_failure(status: int, body: str, *, cluster: str) -> ToolFailure:
    """Turn an API error answer (a `Status` object, usually) into a ToolFailure keeping the server's message."""
    message = ""
    kind = ""
    name = ""
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {}
    if isinstance(doc, dict):
        message = str(doc.get("message") or "")
        details = doc.get("details") or {}
        if isinstance(details, dict):
            kind = str(details.get("kind") or "")
            name = str(details.get("name") or "")
    upstream = message or body[:300] or f"HTTP {status}"
    word = _KIND_WORDS.get(kind, kind.rstrip("s") if kind else "object")
    if status == 404:
        text = f"{word} '{name}' not found" if name else f"not found: {upstream}"
        return ToolFailure(ErrorCode.NOT_FOUND, text, upstream=upstream)
    if status == 401:
        return ToolFailure(
            ErrorCode.FORBIDDEN,
            f"cluster '{cluster}' rejected the credentials (expired token?): {upstream}",
            upstream=upstream,
        )
    if status == 403:
        return ToolFailure(ErrorCode.FORBIDDEN, f"forbidden on cluster '{cluster}': {upstream}", upstream=upstream)
    if status == 409:
        return ToolFailure(ErrorCode.CONFLICT, f"conflict: {upstream}", upstream=upstream)
    if status in (400, 422):
        return ToolFailure(ErrorCode.INVALID, f"invalid request: {upstream}", upstream=upstream)
    if status == 429 or status >= 500:
        return ToolFailure(
            ErrorCode.UNAVAILABLE,
            f"cannot reach the cluster '{cluster}' (HTTP {status}): {upstream}",
            upstream=upstream,
        )
    return ToolFailure(ErrorCode.FAILED, f"the API answered HTTP {status}: {upstream}", upstream=upstream)


def _to_failure(exc: BaseException, *, cluster: str) -> ToolFailure:
    if isinstance(exc, ToolFailure):
        return exc
    if isinstance(exc, _HttpError):
        return status_failure(exc.status, exc.body, cluster=cluster)
    if isinstance(exc, k8s.ApiException):
        return status_failure(int(exc.status or 0), str(exc.body or exc.reason or ""), cluster=cluster)
    if isinstance(exc, asyncio.TimeoutError):
        return ToolFailure(
            ErrorCode.UNAVAILABLE, f"cannot reach the cluster '{cluster}': timed out", upstream="timeout"
        )
    if isinstance(exc, aiohttp.ClientError | ConnectionError | OSError):
        return ToolFailure(
            ErrorCode.UNAVAILABLE,
            f"cannot reach the cluster '{cluster}': {exc}",
            upstream=str(exc) or type(exc).__name__,
        )
    return ToolFailure(ErrorCode.FAILED, f"unexpected error talking to cluster '{cluster}': {exc}", upstream=str(exc))


class KubeContext:
    """One cluster as seen by one tool call: the typed API groups plus `read`/`write` wrappers.

    Use the `*_without_preload_content` API methods with `read_json`/`write_json` (or `read_text` for logs).
    """

    def __init__(
        self,
        *,
        cluster: str,
        api: k8s.ApiClient,
        timeout: float,
        read_attempts: int,
        impersonation: Impersonation | None = None,
        owner: KubeClients | None = None,
    ) -> None:
        self.cluster = cluster
        self.owner = owner  # the KubeClients it came from (for tools about clusters themselves)
        self.api_client = api
        self.core = RawCoreV1Api(api)
        self.apps = RawAppsV1Api(api)
        self.version = RawVersionApi(api)
        self.timeout = timeout
        self.read_attempts = max(1, read_attempts)
        self.impersonation = impersonation
        self.calls = 0  # API requests made through this context (figures for tests and benchmarks)

    async def _send(
        self, fn: Callable[..., Awaitable[Any]], args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[int, str]:
        token = _IMPERSONATE.set(self.impersonation)
        self.calls += 1
        try:
            resp = await fn(*args, _request_timeout=self.timeout, **kwargs)
            try:
                raw = await asyncio.wait_for(resp.read(), timeout=self.timeout)
                status = int(resp.status)
            finally:
                resp.release()
        finally:
            _IMPERSONATE.reset(token)
        return status, raw.decode("utf-8", errors="replace")

    def _rebind(self, fn: Callable[..., Awaitable[Any]], api: k8s.ApiClient) -> Callable[..., Awaitable[Any]] | None:
        """The same API method on a fresh client (None if `fn` is not a method of one of our API groups)."""
        group = getattr(fn, "__self__", None)
        # `fn` belongs to one of our groups, or to the generated class one of them fell back to
        old = next(
            (g for g in (self.core, self.apps, self.version) if group is not None and group in (g, g._generated)), None
        )
        if old is None:
            return None
        self.api_client = api
        self.core, self.apps, self.version = RawCoreV1Api(api), RawAppsV1Api(api), RawVersionApi(api)
        fresh = {RawCoreV1Api: self.core, RawAppsV1Api: self.apps, RawVersionApi: self.version}[type(old)]
        method: Callable[..., Awaitable[Any]] = getattr(fresh, fn.__name__)
        return method

    async def _once(self, fn: Callable[..., Awaitable[Any]], args: Sequence[Any], kwargs: dict[str, Any]) -> str:
        status, text = await self._send(fn, args, kwargs)
        if status == 401 and self.owner is not None:
            # Credentials rotate (token files, exec-plugin/OIDC tokens, a rewritten kubeconfig): load them again
            # and retry once. A 401 means the server did nothing, so even a write may be sent again.
            stale = self.api_client
            self.owner.retire(self.cluster, stale)
            fresh = await self.owner.api_for(self.cluster)
            # Only new credentials are worth a retry: the same ones would be refused again.
            changed = await asyncio.to_thread(lambda: _credentials(fresh) != _credentials(stale))
            retry = self._rebind(fn, fresh) if changed else None
            if retry is not None:
                status, text = await self._send(retry, args, kwargs)
                if status == 401:
                    self.owner.retire(self.cluster, self.api_client)
        if status >= 400:
            raise _HttpError(status, text)
        return text

    async def read_text(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> str:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_is_transient),
                stop=stop_after_attempt(self.read_attempts),
                wait=wait_exponential(multiplier=0.1, max=1.0),
                reraise=True,
            ):
                with attempt:
                    return await self._once(fn, args, kwargs)
        except Exception as exc:  # every failure becomes a typed ToolFailure
            raise _to_failure(exc, cluster=self.cluster) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def read_json(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
        return _parse(await self.read_text(fn, *args, **kwargs), cluster=self.cluster)

    async def write_json(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """A write: exactly one attempt, whatever happens."""
        try:
            text = await self._once(fn, args, kwargs)
        except Exception as exc:  # never retried: map and report
            raise _to_failure(exc, cluster=self.cluster) from exc
        return _parse(text, cluster=self.cluster)


def _env_proxy_applies(url: str) -> bool:
    """Whether HTTP(S)_PROXY / NO_PROXY send requests to `url` through a proxy (as aiohttp's trust_env reads them)."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    return parts.scheme in getproxies() and not proxy_bypass(parts.hostname or "")


def _credentials(api: k8s.ApiClient) -> tuple[object, ...]:
    """What a client logs in with (token, client certificate and key contents), to tell a real reload."""
    cfg = api.configuration
    files = []
    for path in (cfg.cert_file, cfg.key_file):
        try:
            files.append(Path(path).read_bytes() if path else b"")
        except OSError:
            files.append(b"")
    return (tuple(sorted((cfg.api_key or {}).items())), *files)


def _parse(text: str, *, cluster: str) -> dict[str, Any]:
    try:
        doc = json.loads(text) if text else {}
    except ValueError as exc:
        raise ToolFailure(ErrorCode.FAILED, f"cluster '{cluster}' sent a non-JSON answer", upstream=text[:200]) from exc
    return doc if isinstance(doc, dict) else {"items": doc}


class KubeClients:
    """Kubeconfig contexts and one API client per context, created on first use."""

    def __init__(
        self,
        *,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
        timeout_seconds: float = 10.0,
        read_attempts: int = 3,
    ) -> None:
        self.kubeconfig = str(kubeconfig) if kubeconfig else None
        self.default_context = context
        self.timeout = timeout_seconds
        self.read_attempts = read_attempts
        self._clients: dict[str, k8s.ApiClient] = {}
        self._retired: list[k8s.ApiClient] = []  # replaced after a 401; closed at close() (calls may be in flight)
        self._doc_cache: tuple[tuple[str, int], dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    def _config_path(self) -> str:
        # KUBECONFIG may list several files; merging them is not supported: the first existing one is used.
        candidates = (self.kubeconfig or os.environ.get("KUBECONFIG") or "").split(os.pathsep)
        paths = [os.path.expanduser(c) for c in candidates if c]
        for path in paths:
            if os.path.exists(path):
                return path
        return paths[0] if paths else os.path.expanduser("~/.kube/config")

    def _load_config_doc(self) -> dict[str, Any]:
        path = self._config_path()
        try:
            # Parsed once per file version: every call resolves its context, and YAML parsing dominated small calls.
            stamp = os.stat(path).st_mtime_ns
            if self._doc_cache is not None and self._doc_cache[0] == (path, stamp):
                return self._doc_cache[1]
            with open(path, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh)
        except OSError as exc:
            raise ToolFailure(
                ErrorCode.UNAVAILABLE, f"cannot read the kubeconfig '{path}': {exc.strerror}", upstream=str(exc)
            ) from exc
        except yaml.YAMLError as exc:
            raise ToolFailure(
                ErrorCode.INVALID, f"the kubeconfig '{path}' is not valid YAML", upstream=str(exc)
            ) from exc
        doc = doc if isinstance(doc, dict) else {}
        self._doc_cache = ((path, stamp), doc)
        return doc

    def in_cluster(self) -> bool:
        """Running in a pod with no kubeconfig: the service account is the only cluster (named 'in-cluster')."""
        if self.kubeconfig or os.environ.get("KUBECONFIG"):
            return False
        return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.path.exists(self._config_path())

    def list_clusters(self) -> list[ClusterInfo]:
        if self.in_cluster():
            host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
            port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
            return [ClusterInfo(name=IN_CLUSTER, server=f"https://{host}:{port}", current=True)]
        doc = self._load_config_doc()
        servers = {
            str(c.get("name")): str((c.get("cluster") or {}).get("server") or "")
            for c in doc.get("clusters") or []
            if isinstance(c, dict)
        }
        current = self.default_context or str(doc.get("current-context") or "")
        out: list[ClusterInfo] = []
        for ctx in doc.get("contexts") or []:
            if not isinstance(ctx, dict):
                continue
            name = str(ctx.get("name") or "")
            cluster_ref = str((ctx.get("context") or {}).get("cluster") or "")
            out.append(ClusterInfo(name=name, server=servers.get(cluster_ref, ""), current=name == current))
        return out

    def resolve(self, cluster: str | None) -> str:
        """The context name a call targets: the one asked for, else the configured default, else current."""
        clusters = self.list_clusters()
        names = [c.name for c in clusters]
        if cluster:
            if cluster not in names:
                raise ToolFailure(
                    ErrorCode.NOT_FOUND,
                    f"cluster '{cluster}' not found; known clusters: {', '.join(names) or '(none)'}",
                )
            return cluster
        for c in clusters:
            if c.current:
                return c.name
        if names:
            return names[0]
        raise ToolFailure(ErrorCode.UNAVAILABLE, "no cluster configured: the kubeconfig has no contexts")

    async def _api(self, name: str) -> k8s.ApiClient:
        async with self._lock:
            api = self._clients.get(name)
            if api is not None:
                return api
            cfg = k8s.Configuration()
            try:
                if name == IN_CLUSTER and self.in_cluster():
                    # Service-account token and CA from the pod; the token file is re-read as it rotates.
                    k8s_config.load_incluster_config(client_configuration=cfg)
                else:
                    await k8s_config.load_kube_config(
                        config_file=self._config_path(), context=name, client_configuration=cfg, persist_config=False
                    )
            except Exception as exc:  # config errors come in many types
                raise ToolFailure(
                    ErrorCode.UNAVAILABLE, f"cannot load kubeconfig context '{name}': {exc}", upstream=str(exc)
                ) from exc
            cfg.retries = None  # our own retry policy (reads only) applies; the library's would retry PUT/DELETE
            cfg.trace_configs = [_trace_config()]
            if not cfg.proxy and not await asyncio.to_thread(_env_proxy_applies, str(cfg.host)):
                # With `trust_env` aiohttp looks up the proxy variables and ~/.netrc in a worker thread on every
                # request; with no proxy for this server there is nothing to find (kubectl reads no netrc either).
                cfg.client_session_kwargs = {"trust_env": False}
            api = k8s.ApiClient(configuration=cfg)
            self._clients[name] = api
            return api

    async def context(
        self,
        cluster: str | None = None,
        *,
        impersonate_user: str | None = None,
        impersonate_groups: Sequence[str] = (),
    ) -> KubeContext:
        name = self.resolve(cluster)
        api = await self._api(name)
        imp = Impersonation(impersonate_user, tuple(impersonate_groups)) if impersonate_user else None
        return KubeContext(
            cluster=name,
            api=api,
            timeout=self.timeout,
            read_attempts=self.read_attempts,
            impersonation=imp,
            owner=self,
        )

    async def api_for(self, name: str) -> k8s.ApiClient:
        """The API client of a context (created from the kubeconfig if there is none, e.g. after `retire`)."""
        return await self._api(name)

    async def warm_up(self) -> None:
        """Load the API client in a worker thread, so the event loop never imports it mid-message; then build the
        default context's client (kubeconfig, TLS context with its CA bundle) so the first message does not."""
        if not _WARM.is_set():
            await asyncio.to_thread(warm_up)
        try:
            await asyncio.wait_for(self._api(self.resolve(None)), timeout=self.timeout)
        except (TimeoutError, ToolFailure):  # no usable kubeconfig (yet): the first call reports it
            pass

    def retire(self, name: str, api: k8s.ApiClient) -> None:
        """Forget a context's client (its credentials were rejected); the next call builds a new one."""
        if self._clients.get(name) is api:
            del self._clients[name]
            self._retired.append(api)

    async def close(self) -> None:
        async with self._lock:
            clients, self._clients = self._clients, {}
            retired, self._retired = self._retired, []
        for api in [*clients.values(), *retired]:
            await api.close()
