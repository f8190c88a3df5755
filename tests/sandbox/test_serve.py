"""`kubeduty sandbox serve` (the installed console script) runs in the foreground, prints where it listens, serves
the real kubectl for the verbs issue 2 names, and stops cleanly on SIGTERM; a taken port is a clear error."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.conftest import KUBECTL

KUBEDUTY = str(Path(sys.executable).with_name("kubeduty"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, proc: subprocess.Popen[str], port: int, kubeconfig: Path, banner: list[str]) -> None:
        self.proc, self.port, self.kubeconfig, self.banner = proc, port, kubeconfig, banner

    def kubectl(self, *args: str) -> str:
        out = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), *args], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed ({out.returncode}): {out.stderr}"
        return out.stdout

    def pods(self, namespace: str, selector: str) -> list[str]:
        doc = json.loads(self.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json"))
        return sorted(p["metadata"]["name"] for p in doc["items"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = _free_port()
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [KUBEDUTY, "sandbox", "serve", "--port", str(port), "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline(), proc.stdout.readline()]
        yield Served(proc, port, kubeconfig, banner)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_prints_the_url_answers_kubectl_and_stops_on_sigterm(served: Served) -> None:
    assert f"https://127.0.0.1:{served.port}" in served.banner[0] and "time moves" in served.banner[0]
    assert str(served.kubeconfig) in served.banner[1]
    assert served.kubectl("get", "nodes", "-o", "name").split() == ["node/node-1", "node/node-2", "node/node-3"]
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=20) == 0


def test_kubectl_gets_logs_scales_restarts_deletes_and_reads_events_against_the_served_sandbox(
    served: Served,
) -> None:
    table = served.kubectl("get", "pods", "-n", "dev")
    assert table.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert any(line.startswith("payment-api-") and "CrashLoopBackOff" in line for line in table.splitlines())

    (canary,) = served.pods("dev", "app=cart-service,version=v2")
    assert "v2.0.0-canary" in served.kubectl("logs", "-n", "dev", canary)

    served.kubectl("scale", "deployment", "cart-service-v1", "-n", "dev", "--replicas=3")
    assert len(served.pods("dev", "app=cart-service,version=v1")) == 3

    before = served.pods("production", "app=web")
    served.kubectl("rollout", "restart", "deployment/web", "-n", "production")
    # The served sandbox is live: the rollout takes a moment, and `rollout status` waits for it.
    assert "successfully rolled out" in served.kubectl(
        "rollout", "status", "deployment/web", "-n", "production", "--timeout=120s"
    )
    after = served.pods("production", "app=web")
    assert len(after) == 3 and not set(before) & set(after)

    assert f'pod "{canary}" deleted' in served.kubectl("delete", "pod", canary, "-n", "dev")
    (replacement,) = served.pods("dev", "app=cart-service,version=v2")
    assert replacement != canary

    (payment,) = served.pods("dev", "app=payment-api")
    events = served.kubectl("get", "events", "-n", "dev", "--field-selector", f"involvedObject.name={payment}")
    rows = events.splitlines()[1:]
    assert rows and all(f"pod/{payment}" in row for row in rows)


def test_a_port_already_taken_is_a_clear_error_and_a_non_zero_exit(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [KUBEDUTY, "sandbox", "serve", "--port", str(port), "--kubeconfig-out", str(tmp_path / "kc")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode != 0
    assert "address already in use" in proc.stderr and str(port) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "kc").exists()
