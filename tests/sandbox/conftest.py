"""Clients for the sandbox tests: the official kubernetes client (sync and aio) and the real kubectl."""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client, config
from kubernetes.aio import client as aclient
from kubernetes.aio import config as aconfig

from tests.approvals.conftest import clock, codec, gateway, make_gate  # noqa: F401 - for test_bot_impersonation
from tools.sandbox import SandboxHandle
from tools.sandbox.auth import ADMIN_TOKEN

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@dataclass
class Apis:
    core: client.CoreV1Api
    apps: client.AppsV1Api
    api: client.ApiClient


@pytest.fixture
def apis(sandbox: SandboxHandle) -> Iterator[Apis]:
    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path), context="sandbox")
    try:
        yield Apis(client.CoreV1Api(api), client.AppsV1Api(api), api)
    finally:
        api.close()


@pytest.fixture
async def aio_api(sandbox: SandboxHandle) -> AsyncIterator[aclient.ApiClient]:
    api = await aconfig.new_client_from_config(config_file=str(sandbox.kubeconfig_path), context="sandbox")
    try:
        yield api
    finally:
        await api.close()


KubectlRun = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(sandbox: SandboxHandle) -> KubectlRun:
    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [KUBECTL, "--kubeconfig", str(sandbox.kubeconfig_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    return run


def http(
    handle: SandboxHandle,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    method: str | None = None,
    token: str | None = ADMIN_TOKEN,
) -> tuple[int, bytes]:
    """One raw request over the sandbox's TLS (its CA trusted), as `token`'s user; (status, body), errors too."""
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30, context=handle.ssl_context()) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
