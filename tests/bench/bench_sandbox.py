"""Sandbox list throughput (a script: `python -m tests.bench.bench_sandbox [RUNS]`).

Builds the scale seed (10 namespaces x 1,000 pods), then lists all 10,000 pods through the kubernetes client
(sync, strict pydantic models), as raw JSON over HTTP, and with `kubectl get pods -A` (-o json and the
default table) against the same server. Prints the median and min over RUNS runs (default 5) and the
number of HTTP requests each way made.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

from kubernetes import client, config

from tools.sandbox import start_sandbox_thread
from tools.sandbox.seed import build

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def measure(label: str, runs: int, fn: Callable[[], int], requests: Callable[[], int]) -> None:
    times: list[float] = []
    count = 0
    for _ in range(runs):
        before = requests()
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
        made = requests() - before
    print(
        f"{label:<42} median {statistics.median(times) * 1000:8.1f} ms   min {min(times) * 1000:8.1f} ms"
        f"   items {count:>6}   requests/run {made}"
    )


def main(runs: int) -> None:
    t0 = time.perf_counter()
    cluster = build("scale", namespaces=10, pods=1000)
    print(f"scale seed (10 x 1000 pods) built in {time.perf_counter() - t0:.2f} s")
    handle = start_sandbox_thread(cluster=cluster)
    try:
        kc = str(handle.kubeconfig_path)
        api = config.new_client_from_config(config_file=kc, context="sandbox")
        core = client.CoreV1Api(api)
        req_count = lambda: handle.cluster.request_count  # noqa: E731

        def raw() -> int:
            with urllib.request.urlopen(handle.url + "/api/v1/pods") as resp:
                return len(resp.read())

        def typed() -> int:
            return len(core.list_pod_for_all_namespaces().items)

        def typed_paged() -> int:
            n, token = 0, None
            while True:
                page = core.list_pod_for_all_namespaces(limit=500, _continue=token)
                n += len(page.items)
                token = page.metadata._continue if page.metadata else None
                if not token:
                    return n

        def kubectl(*args: str) -> Callable[[], int]:
            def run() -> int:
                out = subprocess.run([KUBECTL, "--kubeconfig", kc, *args], capture_output=True, text=True, check=True)
                return out.stdout.count("\n") if "-o" not in args else out.stdout.count('"kind": "Pod"')

            return run

        print(f"python {sys.version.split()[0]}, runs={runs}")
        measure("raw HTTP GET /api/v1/pods (bytes)", runs, raw, req_count)
        measure("kubernetes client list_pod_for_all_namespaces", runs, typed, req_count)
        measure("kubernetes client, pages of 500", runs, typed_paged, req_count)
        measure("kubectl get pods -A -o json", runs, kubectl("get", "pods", "-A", "-o", "json"), req_count)
        measure("kubectl get pods -A (table, lines)", runs, kubectl("get", "pods", "-A"), req_count)
        api.close()
    finally:
        handle.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
