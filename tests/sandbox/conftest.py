"""Clients for the sandbox tests: the official kubernetes client (sync and aio) and the real kubectl."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client, config
from kubernetes.aio import client as aclient
from kubernetes.aio import config as aconfig

from tools.sandbox import SandboxHandle

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
