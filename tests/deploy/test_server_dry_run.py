"""`kubectl apply --dry-run=server` of every rendered object against `kubeduty sandbox serve`, for the kinds the
sandbox serves (its discovery decides; the others are listed in the output, not counted as passes)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import OVERLAYS, kubectl, render

MUST_BE_SERVED = {"Namespace", "ServiceAccount", "ConfigMap", "Service", "Deployment", "ClusterRole", "Role"}


@pytest.fixture(scope="module")
def sandbox_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("sandbox-serve")
    kubeconfig, log = tmp / "kubeconfig", tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "sandbox", "serve", "--port", "0", "--kubeconfig-out", str(kubeconfig)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while "listening on" not in log.read_text(errors="replace"):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.1)
            yield kubeconfig
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl(), "--kubeconfig", str(kubeconfig), *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def served_kinds(kubeconfig: Path) -> set[tuple[str, str]]:
    out = _kubectl(kubeconfig, "api-resources", "--no-headers")
    assert out.returncode == 0, out.stderr
    kinds = set()
    for line in out.stdout.splitlines():
        cols = line.split()
        kinds.add((cols[-3], cols[-1]))  # (apiVersion, kind)
    return kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_the_sandbox_serves_is_accepted_by_a_server_side_dry_run(
    sandbox_kubeconfig: Path, overlay: str
) -> None:
    served = served_kinds(sandbox_kubeconfig)
    docs = render(overlay)
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    created = _kubectl(sandbox_kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(namespace))  # for real
    assert created.returncode == 0, created.stderr
    applied, skipped = [], []
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) not in served:
            skipped.append(doc["kind"])
            continue
        out = _kubectl(sandbox_kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(doc))
        assert out.returncode == 0 and "(server dry run)" in out.stdout, (doc["kind"], out.stderr)
        applied.append(doc["kind"])
    print(f"{overlay}: dry-run applied {sorted(applied)}; not served by the sandbox: {sorted(skipped)}")
    assert MUST_BE_SERVED & {d["kind"] for d in docs} <= set(applied)
    # dry run means nothing was stored
    listed = _kubectl(
        sandbox_kubeconfig, "get", "deployments,configmaps", "-n", namespace["metadata"]["name"], "-o", "name"
    )
    assert listed.returncode == 0 and "kubeduty" not in listed.stdout, listed.stdout
